package main

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/snapshotter"
)

// TestImportProvesItsLayer: import (and commit, through the same layerFile.unpack) records
// the blob it wrote as proven to be the layer it unpacked from it, so the new image's first
// run uses the layer dir without decompressing the blob again.
func TestImportProvesItsLayer(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi"))
	tw.Close()
	root := t.TempDir()
	if _, err := strata(t, root, b.Bytes(), "import", "-", "imported:1"); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := store.Resolve("docker.io/library/imported:1")
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := store.LayerPairs(desc)
	if err != nil || len(pairs) != 1 {
		t.Fatalf("LayerPairs = %v, %v; want the one layer", pairs, err)
	}
	snap, err := snapshotter.New(filepath.Join(root, "snapshots"), snapshotter.Options{Driver: snapshotter.VFS})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Has(pairs[0].DiffID) || !snap.Proven(pairs[0].DiffID, pairs[0].Blob.Digest) {
		t.Errorf("the imported layer: unpacked %v, its blob proven %v; want both", snap.Has(pairs[0].DiffID), snap.Proven(pairs[0].DiffID, pairs[0].Blob.Digest))
	}
}
