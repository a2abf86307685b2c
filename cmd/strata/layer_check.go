package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/snapshotter"
)

// checkLayersHere checks, before save or push writes the stored image desc, that each of its
// layer blobs whose DiffID is unpacked here is that layer (snapshotter.Check: proven before,
// at an unpack or an earlier check, or hashed now). A pairing stored while its DiffID was not
// unpacked here (pull --no-unpack, load, another platform, serve --pull-through) was checked
// against nothing; once another blob unpacked that DiffID, runs of the image use that layer
// dir, and save and push wrote this blob as the same image: two images under one name. Such
// an image is refused. What cannot be read (a blob missing or damaged, a manifest or config
// unreadable) is left for the writer, which fails on it in its own words.
func checkLayersHere(ctx context.Context, g *globals, store *cache.Store, desc v1.Descriptor) error {
	snap, err := g.unpackedLayers()
	if err != nil || snap == nil {
		return err
	}
	return checkLayersOf(ctx, snap, store, desc)
}

// checkLayersOf is checkLayersHere for one stored image or index.
func checkLayersOf(ctx context.Context, snap *snapshotter.Snapshotter, store *cache.Store, desc v1.Descriptor) error {
	pairs, err := store.LayerPairs(desc)
	if err != nil {
		return nil // the writer reads the same manifests and configs, and fails on them
	}
	for _, p := range pairs {
		err := snap.Check(ctx, p.DiffID, p.Blob, func() (io.ReadCloser, error) { return store.OpenVerified(p.Blob) })
		if err == nil {
			continue
		}
		if errors.Is(err, snapshotter.ErrDiffIDMismatch) {
			return notTheLayer(p.Blob.Digest, p.DiffID, snapshotter.ErrDiffIDMismatch)
		}
		if ctx.Err() != nil {
			return err
		}
		// A blob that does not decompress may be one damaged on disk: read whole, verified,
		// it is found so (and removed, for a pull to repair) and the writer says so. Intact,
		// it is no layer, let alone this one.
		if damaged := readVerified(store, p.Blob); damaged != nil {
			continue
		}
		return notTheLayer(p.Blob.Digest, p.DiffID, err)
	}
	return nil
}

// provenBy is snap.Proven in the order cache.WriteOptions.Proven and archive.LoadOptions.Proven
// take it: blob first.
func provenBy(snap *snapshotter.Snapshotter) func(blob, diffID v1.Hash) bool {
	return func(blob, diffID v1.Hash) bool { return snap.Proven(diffID, blob) }
}

// readVerified reads the stored blob desc whole, verified: nil when it is intact.
func readVerified(store *cache.Store, desc v1.Descriptor) error {
	rc, err := store.OpenVerified(desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// notTheLayer is the refusal of an image whose config pairs blob with a DiffID unpacked
// here from other content; cause says how the blob failed (ErrDiffIDMismatch, or why it
// does not decompress).
func notTheLayer(blob, diffID v1.Hash, cause error) error {
	return fmt.Errorf("layer %s is not %s, the layer its config names, which is unpacked here from another blob (%w): the image was stored unchecked; remove it and pull it again", shortDigest(blob), shortDigest(diffID), cause)
}

// shortDigest is a digest as messages name it: algorithm and 12 hex digits.
func shortDigest(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}
