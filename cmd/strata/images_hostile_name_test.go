package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestImagesEscapeStoredNames: a name in the store's index.json that is no reference (the
// file edited, or written by another tool) is listed as read by images, system df and
// prune -a, but its terminal escapes are shown escaped, not run on the user's terminal:
// they were written raw, so a tampered store could clear the screen or retitle it.
func TestImagesEscapeStoredNames(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join((&globals{root: root}).storeDir(), "index.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	evil := "docker.io/library/\x1b]0;owned\x07\x1b[2Jbusybox:1"
	// The image's one name, so system df -v, one row per image, shows it.
	idx.Manifests[0].Annotations = map[string]string{"org.opencontainers.image.ref.name": evil}
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"images"},
		{"images", "--format", "{{.Repository}}"},
		{"images", "--format", "json"},
		{"system", "df", "-v"},
		{"prune", "-a", "--dry-run"},
	} {
		out, err := strata(t, root, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%v wrote a raw escape sequence of a stored name:\n%q", args, out)
		}
		if !strings.Contains(out, `\x1b`) && args[0] != "images" || args[0] == "images" && len(args) == 1 && !strings.Contains(out, `\x1b]0;owned`) {
			t.Errorf("%v does not show the name escaped:\n%q", args, out)
		}
	}
}
