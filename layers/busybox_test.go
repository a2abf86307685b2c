package layers

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestApplyBusybox applies the layer of a real OCI image layout the way the snapshotter does:
// compressed stream and media type from the manifest, DiffID expected from the config. Busybox
// makes most of /bin hard links to one binary.
func TestApplyBusybox(t *testing.T) {
	dir := filepath.Join("..", "testdata", "busybox", "busybox-1.38.0-musl-oci")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("skipping: %s is absent: %v", dir, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		mt, err := l.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		diffID, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		j := newJail(t)
		got, err := Apply(context.Background(), j.root, rc, Options{MediaType: mt, ExpectDiffID: diffID, IgnoreOwners: os.Geteuid() != 0})
		rc.Close()
		if err != nil {
			t.Fatalf("Apply(busybox layer %s) = %v", diffID, err)
		}
		j.check(t)
		if got != diffID {
			t.Errorf("Apply(busybox layer) DiffID = %s, want %s", got, diffID)
		}
		wantSameInode(t, j.root, "bin/busybox", "bin/sh")
		wantSameInode(t, j.root, "bin/busybox", "bin/ls")
	}
}
