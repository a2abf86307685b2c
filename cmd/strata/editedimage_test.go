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
	storeBusyboxConfigFile(t, root, name, func(cf *v1.ConfigFile) { edit(&cf.Config) })
}

// storeBusyboxConfigFile is storeEditedBusybox of the whole config file (os, architecture,
// rootfs as well as the run config).
func storeBusyboxConfigFile(t *testing.T, root, name string, edit func(*v1.ConfigFile)) {
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
	cf = cf.DeepCopy()
	edit(cf)
	edited, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), name, edited, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}
