package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// pruneGarbage is the collection prune runs after its untags: collectGarbage, except that with
// until set the dangling images (those no name reaches, which the collection otherwise
// removes whatever their age) created at or after until are kept, manifest, config, layers
// and layer dirs, as docker's image prune --filter until= removes only the dangling images
// created before it; one whose config gives no time is kept, as docker keeps it. The rest is
// as ever: blobs no image reaches and layer dirs no image or container uses go.
func pruneGarbage(ctx context.Context, g *globals, dryRun bool, until time.Time) (garbage, error) {
	if until.IsZero() {
		return collectGarbage(ctx, g, dryRun)
	}
	var out garbage
	store, err := g.openStore()
	if err != nil {
		return out, err
	}
	snap, err := g.openSnapshotter()
	if err != nil {
		return out, err
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
	if err == nil {
		var young []cache.ImageInfo
		if young, err = youngDangling(store, until); err == nil {
			for _, info := range young {
				for _, d := range info.Config.RootFS.DiffIDs {
					keep[d] = true
				}
			}
			out.Layers, err = snap.Prune(ctx, keep, dryRun)
		}
	}
	err = errors.Join(err, release())
	if err != nil {
		return out, err
	}
	for _, l := range out.Layers {
		out.Freed += l.Size
	}
	// Judged again under the lock PruneKeeping holds: a tag moved meanwhile may have left
	// another young image dangling.
	blobs, freed, err := store.PruneKeeping(ctx, dryRun, func() ([]v1.Hash, error) {
		list, err := containers.List()
		if err != nil {
			return nil, err
		}
		roots := containerImageIDs(list)
		young, err := youngDangling(store, until)
		if err != nil {
			return nil, err
		}
		for _, info := range young {
			roots = append(roots, info.Manifest.Digest)
		}
		return roots, nil
	})
	out.Blobs = blobs
	out.Freed += freed
	return out, err
}

// youngDangling describes the stored manifests and indexes no name reaches whose image was
// created at or after until, or gives no time. A blob that is no manifest, or one that cannot
// be read, is passed over: it is not kept, as the collection would not keep it either.
func youngDangling(store *cache.Store, until time.Time) ([]cache.ImageInfo, error) {
	refs, err := store.List()
	if err != nil {
		return nil, err
	}
	named := map[v1.Hash]bool{}
	for _, r := range refs {
		named[r.Descriptor.Digest] = true
		// A damaged image's blobs are not all listed: one of them taken for dangling is
		// kept at worst, and the collection keeps it anyway as a ref reaches it.
		blobs, _ := store.Blobs(r.Descriptor)
		for _, b := range blobs {
			named[b.Digest] = true
		}
	}
	dir := filepath.Join(store.Dir(), "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var young []cache.ImageInfo
	for _, e := range entries {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if !e.Type().IsRegular() || len(e.Name()) != 64 || named[h] || !smallJSON(filepath.Join(dir, e.Name())) {
			continue
		}
		d, ok := manifestDescriptor(store, h)
		if !ok {
			continue
		}
		info, err := store.Info(cache.Ref{Descriptor: d})
		if err != nil {
			continue // a manifest whose config is gone: nothing of it to keep whole
		}
		if info.Created.IsZero() || !info.Created.Before(until) {
			young = append(young, info)
		}
	}
	return young, nil
}

// manifestDescriptor reads blob h as an image manifest or an index: ok is false for any other
// blob (a config, a layer, a file that is no JSON object).
func manifestDescriptor(store *cache.Store, h v1.Hash) (v1.Descriptor, bool) {
	raw, err := store.ReadBlob(h, 4<<20)
	if err != nil {
		return v1.Descriptor{}, false
	}
	var m struct {
		MediaType types.MediaType  `json:"mediaType"`
		Manifests []v1.Descriptor  `json:"manifests"`
		Config    *json.RawMessage `json:"config"`
		Layers    []v1.Descriptor  `json:"layers"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return v1.Descriptor{}, false
	}
	d := v1.Descriptor{MediaType: m.MediaType, Digest: h, Size: int64(len(raw))}
	var cd v1.Descriptor
	switch {
	case m.Manifests != nil || m.MediaType.IsIndex():
		if !d.MediaType.IsIndex() {
			d.MediaType = types.OCIImageIndex
		}
	case m.Config != nil && json.Unmarshal(*m.Config, &cd) == nil && cd.Digest.Hex != "":
		if d.MediaType == "" {
			d.MediaType = types.OCIManifestSchema1
		}
	default:
		return v1.Descriptor{}, false // an image config (its "config" names no blob), or other JSON
	}
	return d, true
}

// smallJSON reports whether the file at p is small enough to be a manifest and starts, after
// white space, with '{': a layer is passed over without being read whole.
func smallJSON(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() > 4<<20 {
		return false
	}
	buf := make([]byte, 64)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	b := bytes.TrimLeft(buf[:n], " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
