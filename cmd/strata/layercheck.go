package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/platforms"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/snapshotter"
)

// A start of a container by strata (start, start -a, restart, run -d) checks the layer dirs
// its root stacks, as run and create check an image's: a container created before its layer
// dir was emptied or partly deleted ran on the damaged dir.
func init() { runner.SetLayerChecker(checkContainerLayers) }

// checkContainerLayers is the runner's LayerChecker. The check is the fingerprint's (tens
// of microseconds a layer); only a damaged layer opens the stores, finds its blob in the
// container's image (by the ID it recorded) and unpacks it again with Ensure, which swaps the
// fresh dir into the layer dir's path (RENAME_EXCHANGE): the path the container's overlay
// mount options name, so the started container sees the whole layer. Without the image or
// the blob, the start is refused in run's one line.
func checkContainerLayers(ctx context.Context, layersDir, image, imageID string, hexes []string) error {
	var damaged []v1.Hash
	hows := map[v1.Hash]string{}
	for _, h := range hexes {
		d := v1.Hash{Algorithm: "sha256", Hex: h}
		if how := snapshotter.Damage(layersDir, d); how != "" {
			damaged = append(damaged, d)
			hows[d] = how
		}
	}
	if len(damaged) == 0 {
		return nil
	}
	if image == "" {
		image = imageID
	}
	// The container's layers are overlay lowers: the overlay driver's layer dirs.
	g := &globals{root: filepath.Dir(layersDir), storageDriver: string(snapshotter.Overlay)}
	snap, err := g.openSnapshotter()
	if err != nil {
		return err
	}
	blobs := map[v1.Hash]v1.Descriptor{}
	var imgErr error
	store, err := g.openStore()
	if err == nil {
		blobs, err = imageBlobs(store, imageID)
	}
	if err != nil {
		imgErr = err
	}
	for _, d := range damaged {
		desc, ok := blobs[d]
		if !ok {
			why := imgErr
			if why == nil {
				why = errors.New("its image does not list it")
			}
			return damagedLayerError(image, &snapshotter.DamagedError{DiffID: d, How: hows[d], Err: why})
		}
		err := snap.Ensure(ctx, d, desc, func() (io.ReadCloser, error) { return store.OpenVerified(desc) })
		var de *snapshotter.DamagedError
		if errors.As(err, &de) {
			return damagedLayerError(image, de)
		}
		if err != nil {
			return fmt.Errorf("image %s: layer %s lost files since it was unpacked (%s), and unpacking it again failed: %w", image, d, hows[d], err)
		}
	}
	return nil
}

// imageBlobs maps the DiffIDs of the image imageID (named or dangling) to their blobs.
func imageBlobs(store *cache.Store, imageID string) (map[v1.Hash]v1.Descriptor, error) {
	id, err := v1.NewHash(imageID)
	if err != nil {
		return nil, errors.New("the container records no image ID")
	}
	r, err := store.FindImageWith(id.String(), []v1.Hash{id})
	if err != nil {
		return nil, err
	}
	desc, err := store.ImageFor(r, platforms.Host())
	if err != nil {
		return nil, err
	}
	img, err := store.Image(desc.Digest)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image has %d layers but its config %d diff ids", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	out := make(map[v1.Hash]v1.Descriptor, len(m.Layers))
	for i, l := range m.Layers {
		out[cfg.RootFS.DiffIDs[i]] = l
	}
	return out, nil
}
