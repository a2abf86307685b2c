package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/cache"
)

// TestPullOfflineIncomplete: pull --offline of a stored image says up to date only when a run
// needs nothing more: with a layer's blob lost from the store (and the layer not unpacked)
// it said up to date, exit 0, and the run after it failed. Once the layer is unpacked its
// blob is no longer needed to run.
func TestPullOfflineIncomplete(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	if _, err := strata(t, root, nil, "pull", "-q", "--no-unpack", name); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.NewHash(storedDigest(t, root, name))
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Image(m)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := img.Manifest()
	if err != nil || len(mf.Layers) == 0 {
		t.Fatalf("manifest of the stored image: %v, %v", mf, err)
	}
	d := mf.Layers[0].Digest
	blob := filepath.Join(root, "oci", "blobs", d.Algorithm, d.Hex)
	aside := filepath.Join(t.TempDir(), "blob")
	if err := os.Rename(blob, aside); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "pull", "--offline", name)
	if err == nil || !strings.Contains(err.Error(), "lacks some of its blobs") || strings.Contains(out, "up to date") {
		t.Errorf("pull --offline with a layer blob lost = %q, %v; want an error saying the store lacks blobs", out, err)
	}
	if err := os.Rename(aside, blob); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, root, nil, "pull", "--offline", name); err != nil || !strings.Contains(out, "up to date") {
		t.Errorf("pull --offline with every blob = %q, %v; want up to date", out, err)
	}
}
