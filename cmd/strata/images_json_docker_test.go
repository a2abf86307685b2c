package main

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestImagesJSONDocker: images --format json is docker's {{json .}} of its image formatter's
// row (cli/command/formatter/image.go, marshalled by formatter.MarshalJSON): the eleven
// placeholders in key order, each a string as a template prints it, the size as "887kB"
// and VirtualSize at docker's four digits; the digest is "<none>" without --digests (docker
// looks digests up only when asked), HTML-escaped as json.Marshal writes it.
func TestImagesJSONDocker(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	created, err := strata(t, root, nil, "images", "--format", "{{.CreatedAt}}|{{.CreatedSince}}")
	if err != nil {
		t.Fatal(err)
	}
	createdAt, since, _ := strings.Cut(strings.TrimSpace(created), "|")
	out, err := strata(t, root, nil, "images", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, `{"Containers":"N/A","CreatedAt":`) || !strings.Contains(out, `"Digest":"\u003cnone\u003e"`) {
		t.Errorf("images --format json = %q; want docker's keys in order, <none> escaped", out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("images --format json = %q: %v", out, err)
	}
	want := map[string]any{"Containers": "N/A", "CreatedAt": createdAt, "CreatedSince": since, "Digest": "<none>",
		"ID": got["ID"], "Repository": "busybox", "SharedSize": "N/A", "Size": "887kB", "Tag": "1.38.0-musl",
		"UniqueSize": "N/A", "VirtualSize": "886.6kB"}
	if id, _ := got["ID"].(string); len(id) != 12 || !maps.Equal(got, want) {
		t.Errorf("images --format json = %v\nwant %v", got, want)
	}
	if keys := slices.Sorted(maps.Keys(got)); len(keys) != 11 {
		t.Errorf("images --format json has keys %v; want docker's 11", keys)
	}
	out, err = strata(t, root, nil, "images", "--digests", "--format", "json")
	if err != nil || !strings.Contains(out, `"Digest":"sha256:`) {
		t.Errorf("images --digests --format json = %q, %v; want the digest", out, err)
	}
}
