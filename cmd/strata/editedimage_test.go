package main

import (
	"context"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/strata-run/strata/cache"
)

// storeEditedBusybox stores in root, whose store has busybox:1.38.0-musl loaded, busybox with
// its config changed by edit as the image name ("docker.io/library/web:1"): an image with the
// labels or ports a test needs.
func storeEditedBusybox(t *testing.T, root, name string, edit func(*v1.Config)) {
	t.Helper()
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.FindImage("docker.io/library/busybox:1.38.0-musl")
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Image(r.Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	edit(&cfg)
	edited, err := mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), name, edited, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}
