package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSaveByDigest: save NAME@DIGEST (with a tag or not) writes the image with no name, as
// docker save writes an image named by digest (a digest is no tag to give it), and as save
// <ID> does: it carried whichever tag of the image the store listed first, busybox:1.38.0-musl
// for bb:1@<digest>, a name the user never gave. Another argument naming the image by a tag
// still names it.
func TestSaveByDigest(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "bb:1"); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "images", "--digests", "--format", "{{.Digest}}", "bb:1")
	if err != nil {
		t.Fatal(err)
	}
	d := strings.TrimSpace(out)
	if !strings.HasPrefix(d, "sha256:") {
		t.Fatalf("digest of bb:1 = %q", d)
	}
	for _, c := range []struct {
		args []string
		want [][]string
	}{
		{[]string{"bb@" + d}, [][]string{nil}},
		{[]string{"bb:1@" + d}, [][]string{nil}},
		{[]string{"busybox:1.38.0-musl@" + d}, [][]string{nil}},
		{[]string{"bb@" + d, "bb:1"}, [][]string{{"bb:1"}}},
	} {
		tarball := filepath.Join(t.TempDir(), "s.tar")
		if _, err := strata(t, root, nil, append([]string{"save", "-o", tarball}, c.args...)...); err != nil {
			t.Errorf("save %v: %v", c.args, err)
			continue
		}
		var got [][]string
		for _, m := range archiveManifest(t, tarball) {
			got = append(got, m.RepoTags)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("save %v: manifest.json RepoTags = %q, want %q", c.args, got, c.want)
		}
	}
}
