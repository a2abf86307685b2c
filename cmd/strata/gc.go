package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/term"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/snapshotter"
)

// garbage is what a collection removed, or would remove with dryRun.
type garbage struct {
	Blobs  []v1.Descriptor
	Layers []snapshotter.Layer
	Freed  int64
}

// collectGarbage removes the layer dirs no image or container uses, then the blobs no ref
// reaches. What is in use is derived each time from the image store and the containers;
// there is no reference count on disk to drift. keepWhole, when not nil, names more images
// to keep whole, layer dirs and blobs, though no ref reaches them (prune --filter until's
// young dangling images); it is asked under the collection's lock, and again under the
// blob collection's, as a tag moved meanwhile may have left another image unnamed.
func collectGarbage(ctx context.Context, g *globals, dryRun bool, keepWhole func(*cache.Store) ([]cache.ImageInfo, error)) (garbage, error) {
	var out garbage
	store, err := g.openStore()
	if err != nil {
		return out, err
	}
	// A store no layer was ever unpacked in (load, pull --no-unpack) has no layer store:
	// no layer dir to prune, and on a full disk its dir could not be made to find that out
	// (rmi and prune are what frees such a disk).
	var snap *snapshotter.Snapshotter
	if _, serr := os.Lstat(g.snapshotsDir()); !errors.Is(serr, fs.ErrNotExist) {
		if snap, err = g.openSnapshotter(); err != nil {
			return out, err
		}
	}
	containers, err := g.openContainers()
	if err != nil {
		return out, err
	}
	release, err := holdCollection(ctx, store, os.Stderr)
	if err != nil {
		return out, err
	}
	keep, err := layersInUse(g, containers)
	if err == nil && keepWhole != nil {
		var whole []cache.ImageInfo
		if whole, err = keepWhole(store); err == nil {
			for _, info := range whole {
				for _, d := range info.Config.RootFS.DiffIDs {
					keep[d] = true
				}
			}
		}
	}
	if err == nil && snap != nil {
		out.Layers, err = snap.Prune(ctx, keep, dryRun)
	}
	err = errors.Join(err, release())
	if err != nil {
		return out, err
	}
	for _, l := range out.Layers {
		out.Freed += l.Size
	}
	// The images containers were created from are roots: one whose tag moved to another
	// image, or that rmi -f untagged, stays whole (dangling) while a container uses it, as
	// docker keeps it. Read under the collection's lock, which run and create take shared.
	blobs, freed, err := store.PruneKeeping(ctx, dryRun, func() ([]v1.Hash, error) {
		list, err := containers.List()
		if err != nil {
			return nil, err
		}
		roots := containerImageIDs(list)
		if keepWhole != nil {
			whole, err := keepWhole(store)
			if err != nil {
				return nil, err
			}
			for _, info := range whole {
				roots = append(roots, info.Manifest.Digest)
			}
		}
		return roots, nil
	}, func(w string) {
		// An index.json entry another tool wrote (a sha512 digest): skipped, as images
		// lists it damaged, rather than failing every prune and rmi.
		fmt.Fprintln(os.Stderr, "strata: warning: "+oneLine(w))
	})
	out.Blobs = blobs
	out.Freed += freed
	return out, err
}

// holdCollection takes the store's collection lock (cache.Store.HoldExclusive). When a pull,
// a load or a container's creation holds the store and w is a terminal, it first says so
// in one line: rmi and prune waited without a word for as long as a pull ran, which looks
// like a hang. A log or a pipe gets no such line: a script's stderr stays the error alone.
func holdCollection(ctx context.Context, store *cache.Store, w io.Writer) (func() error, error) {
	var waiting func()
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		waiting = func() {
			fmt.Fprintln(w, "strata: waiting for a pull, load or container creation that is using the image store to finish")
		}
	}
	return store.HoldExclusiveNotify(ctx, waiting)
}

// containerImageIDs are the IDs of the images the containers were created from, each once.
func containerImageIDs(list []*runner.Container) []v1.Hash {
	var ids []v1.Hash
	seen := map[v1.Hash]bool{}
	for _, c := range list {
		h, err := v1.NewHash(c.Config.ImageID)
		if err != nil || seen[h] {
			continue // made before strata recorded image IDs, or broken
		}
		seen[h] = true
		ids = append(ids, h)
	}
	return ids
}

// danglingImages are the images containers use that no name reaches any more: their tag moved
// to another image, or rmi -f untagged them. The collection keeps them, and images lists them
// as docker lists dangling images, <none>:<none>.
func danglingImages(store *cache.Store, list []*runner.Container) ([]cache.ImageInfo, error) {
	ids := containerImageIDs(list)
	if len(ids) == 0 {
		return nil, nil
	}
	return store.Unnamed(ids)
}

// layersInUse is the set of DiffIDs that named images and existing containers need.
func layersInUse(g *globals, containers *runner.Store) (map[v1.Hash]bool, error) {
	store, err := g.openStore()
	if err != nil {
		return nil, err
	}
	infos, err := store.Infos()
	if err != nil {
		return nil, err
	}
	keep := map[v1.Hash]bool{}
	for _, info := range infos {
		for _, d := range info.Config.RootFS.DiffIDs {
			keep[d] = true
		}
	}
	list, err := containers.List()
	if err != nil {
		return nil, err
	}
	// A dangling image a container uses is an image as any other: its layer dirs stay.
	dangling, err := danglingImages(store, list)
	if err != nil {
		return nil, err
	}
	for _, info := range dangling {
		for _, d := range info.Config.RootFS.DiffIDs {
			keep[d] = true
		}
	}
	// A container keeps the layers its root is made of even when its image was removed
	// with rmi -f: they are the lowerdirs of its overlay mount. system df counts the same.
	for _, c := range list {
		for d := range containerLayers(g, c) {
			keep[d] = true
		}
	}
	return keep, nil
}

// containerUsing returns the short ID of a container created from imageID, or "".
func containerUsing(list []*runner.Container, imageID string) string {
	for _, c := range list {
		if c.Config.ImageID == imageID {
			return shortID(c.ID)
		}
	}
	return ""
}
