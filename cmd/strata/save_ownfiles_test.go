package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSaveIntoOwnStore: an archive written into strata's own directories would damage them:
// `save -o ROOT/oci/index.json` renamed the archive over the store's index.json, exit 0, and
// every command after it failed ("invalid oci image layout"); -o a blob's path replaced the
// blob. Such a save is refused, whether the path names the store, leads there through a
// symlink (to a directory, or dangling), or is an oci-dir; the store is left whole. A file
// beside the store, in the root, is written as before.
func TestSaveIntoOwnStore(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(root, "oci")
	index, err := os.ReadFile(filepath.Join(store, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := os.Symlink(filepath.Join(store, "blobs"), filepath.Join(tmp, "to-blobs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(store, "new.tar"), filepath.Join(tmp, "dangling")); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(store, "blobs", "sha256", strings.TrimPrefix(busyboxDigest, "sha256:"))
	for _, args := range [][]string{
		{"-o", filepath.Join(store, "index.json")},
		{"-o", blob},
		{"-o", filepath.Join(tmp, "to-blobs", "sha256", "x.tar")},
		{"-o", filepath.Join(tmp, "dangling")},
		{"-o", filepath.Join(root, "containers", "x.tar")},
		{"--format", "oci-dir", "-o", filepath.Join(store, "out")},
		{"--format", "oci-archive", "-o", filepath.Join(root, ".", "oci", "..", "oci", "index.json")},
	} {
		_, err := strata(t, root, nil, append([]string{"save"}, append(args, "busybox:1.38.0-musl")...)...)
		if err == nil || !strings.Contains(err.Error(), "strata's own") {
			t.Errorf("save %v = %v, want it refused as strata's own directory", args, err)
		}
	}
	if got, err := os.ReadFile(filepath.Join(store, "index.json")); err != nil || string(got) != string(index) {
		t.Errorf("the store's index.json changed: %v", err)
	}
	for _, p := range []string{filepath.Join(store, "new.tar"), filepath.Join(store, "out"), filepath.Join(store, "blobs", "sha256", "x.tar")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || out == "" {
		t.Errorf("images after the refused saves = %q, %v", out, err)
	}
	if _, err := strata(t, root, nil, "save", "-o", filepath.Join(root, "beside.tar"), "busybox:1.38.0-musl"); err != nil {
		t.Errorf("save -o ROOT/beside.tar = %v", err)
	}
}
