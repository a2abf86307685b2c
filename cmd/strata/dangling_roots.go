package main

import (
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/runner"
)

// danglingRoots are the image IDs the containers beside store record, which the collection
// keeps whole (their dangling images among them), when arg could be an image ID or a prefix
// of one; nil otherwise, or when there are no containers to read. findRef hands them to
// cache.FindImageWith, so an ID finds a dangling image as docker finds one. The container
// store is found beside the image store, as docs/design.md lays out the root; it is not
// created.
func danglingRoots(store *cache.Store, arg string) []v1.Hash {
	prefix := strings.TrimPrefix(arg, "sha256:")
	if prefix == "" || len(prefix) > 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil
	}
	dir := (&globals{root: filepath.Dir(store.Dir())}).containersDir()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	containers, err := runner.OpenStore(dir)
	if err != nil {
		return nil
	}
	list, err := containers.List()
	if err != nil {
		return nil
	}
	return containerImageIDs(list)
}
