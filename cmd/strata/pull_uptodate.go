package main

import (
	"context"
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/snapshotter"
)

// Annotations pull keeps on a ref's descriptor in index.json. The stored manifest is the one
// chosen for a platform, so its own digest cannot be compared with what the tag points at
// now; these remember what it was chosen from.
const (
	// rootDigestAnnotation is the digest the reference pointed at when pulled: the index for
	// a multi-platform image, else the manifest. docker shows it as the repo digest.
	rootDigestAnnotation = "run.strata.pull.root-digest"
	// platformAnnotation is the platform the manifest was chosen for ("linux/amd64"), or
	// allPlatformsValue when the ref names the whole index.
	platformAnnotation = "run.strata.pull.platform"
	allPlatformsValue  = "all"
)

// pulledFrom returns the annotations WriteImage keeps for a pull of root for platform.
func pulledFrom(root v1.Hash, platform string) map[string]string {
	return map[string]string{rootDigestAnnotation: root.String(), platformAnnotation: platform}
}

// upToDate reports whether ref is already stored as the registry serves it now, for platform,
// with every blob and layer dir present; it then returns the root digest. This is the
// one-request pull: a HEAD of the manifest, and nothing else. A ref by digest that is stored
// costs no request at all, since its content cannot change. A ref that is not stored costs
// nothing either: the full pull follows.
//
// A ref that names a whole index (pulled with --all-platforms, or loaded so) is up to date
// for any pull of it when every blob is stored and the image for platform, if the index has
// one, is unpacked: a plain pull after `pull --all-platforms` keeps the index. With
// allPlatforms, a ref holding one platform's manifest of an index is not up to date.
func upToDate(ctx context.Context, p *registry.Puller, store *cache.Store, snap *snapshotter.Snapshotter, ref registry.Reference, platform v1.Platform, allPlatforms bool) (v1.Hash, bool, error) {
	desc, err := store.Resolve(ref.String())
	if errors.Is(err, cache.ErrNotFound) {
		return v1.Hash{}, false, nil
	}
	if err != nil {
		return v1.Hash{}, false, err
	}
	stored := desc.Annotations[rootDigestAnnotation]
	// An index is narrowed to one platform, unless kept whole; a plain manifest is pulled
	// as is, whatever the platform asked for.
	fromIndex := stored != desc.Digest.String()
	switch {
	case stored == "":
		return v1.Hash{}, false, nil
	case desc.MediaType.IsIndex():
		if !indexComplete(store, snap, ref, desc, platform, allPlatforms) {
			return v1.Hash{}, false, nil
		}
	case fromIndex && (allPlatforms || desc.Annotations[platformAnnotation] != platform.String()):
		return v1.Hash{}, false, nil
	case !complete(store, snap, desc.Digest):
		return v1.Hash{}, false, nil
	}
	root, err := v1.NewHash(stored)
	if err != nil {
		return v1.Hash{}, false, nil
	}
	if ref.Digest() != "" {
		return root, ref.Digest() == stored, nil
	}
	head, err := p.Head(ctx, ref)
	if err != nil {
		return v1.Hash{}, false, err
	}
	return root, head.Digest == root, nil
}

// complete reports whether the image with manifest digest m has its config and layer blobs
// in the store and every layer unpacked from them, so a run needs nothing from the network.
// A layer dir the blob is not proven to be (the image stored while it was not unpacked,
// then another blob unpacked it) is not: the pull goes on and checks the blob against it,
// where "up to date" left the image for run to refuse.
func complete(store *cache.Store, snap *snapshotter.Snapshotter, m v1.Hash) bool {
	return eachLayerHeld(store, m, func(blob v1.Descriptor, diffID v1.Hash) bool {
		return store.Has(blob) && (snap == nil || snap.Has(diffID) && snap.Proven(diffID, blob.Digest))
	})
}

// eachLayerHeld reports whether the image with manifest digest m has its config in the store
// and held(blob, diffID) for each of its layers.
func eachLayerHeld(store *cache.Store, m v1.Hash, held func(blob v1.Descriptor, diffID v1.Hash) bool) bool {
	img, err := store.Image(m)
	if err != nil {
		return false
	}
	mf, err := img.Manifest()
	if err != nil || !store.Has(mf.Config) {
		return false
	}
	cfg, err := img.ConfigFile()
	if err != nil || len(cfg.RootFS.DiffIDs) != len(mf.Layers) {
		return false
	}
	for i, l := range mf.Layers {
		if !held(l, cfg.RootFS.DiffIDs[i]) {
			return false
		}
	}
	return true
}

// indexComplete reports whether the index desc that ref names has every blob stored and the
// image for platform unpacked. An index without that platform is complete for allPlatforms
// (there is nothing to unpack) and incomplete otherwise, so the pull goes on and reports what
// the index offers.
func indexComplete(store *cache.Store, snap *snapshotter.Snapshotter, ref registry.Reference, desc v1.Descriptor, platform v1.Platform, allPlatforms bool) bool {
	if !store.Complete(desc) {
		return false
	}
	img, err := store.ImageFor(cache.Ref{Name: ref.String(), Descriptor: desc}, platform)
	if errors.Is(err, cache.ErrNoPlatform) {
		return allPlatforms
	}
	return err == nil && complete(store, snap, img.Digest)
}
