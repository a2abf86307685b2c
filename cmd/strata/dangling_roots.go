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
// keeps whole (their dangling images among them), and the manifests of the dangling images no
// container uses (cache.Store.Dangling), when arg could be an image ID or a prefix of one;
// nil otherwise. findRef hands them to cache.FindImageWith, so an ID finds a dangling image
// as docker finds any image it lists. The container store is found beside the image store,
// as docs/design.md lays out the root; it is not created.
func danglingRoots(store *cache.Store, arg string) []v1.Hash {
	prefix := strings.TrimPrefix(arg, "sha256:")
	if len(prefix) < cache.MinIDPrefix || len(prefix) > 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil
	}
	var roots []v1.Hash
	dir := (&globals{root: filepath.Dir(store.Dir())}).containersDir()
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		if containers, err := runner.OpenStore(dir); err == nil {
			if list, err := containers.List(); err == nil {
				roots = containerImageIDs(list)
			}
		}
	}
	if unused, err := store.Dangling(); err == nil {
		for _, info := range unused {
			roots = append(roots, info.Manifest.Digest)
		}
	}
	return roots
}

// listedDangling are the dangling images images lists, as docker lists them: those containers
// use that no name reaches any more (danglingImages), and those no name reaches and no
// container uses, stored whole until a prune or rmi's collection removes them (a tag moved
// to another image leaves one, as docker's does).
func listedDangling(store *cache.Store, list []*runner.Container) ([]cache.ImageInfo, error) {
	used, err := danglingImages(store, list)
	if err != nil {
		return nil, err
	}
	unused, err := store.Dangling()
	if err != nil {
		return nil, err
	}
	seen := map[v1.Hash]bool{}
	for _, info := range used {
		seen[info.Manifest.Digest] = true
	}
	for _, info := range unused {
		if !seen[info.Manifest.Digest] {
			seen[info.Manifest.Digest] = true
			used = append(used, info)
		}
	}
	return used, nil
}
