package main

import (
	"context"
	"time"

	"github.com/strata-run/strata/cache"
)

// imagePruneFilter is prune's --filter: what of the dangling images (and with -a the unused
// ones) it removes. The zero filter removes them all.
type imagePruneFilter struct {
	// until, when set, removes only the images created before it.
	until time.Time
	// labels remove only the images whose config's labels pass them all.
	labels []labelCheck
}

// none says the filter removes every image.
func (f imagePruneFilter) none() bool { return f.until.IsZero() && len(f.labels) == 0 }

// removes says whether prune removes the image of info under f: created before until (one
// whose config gives no time is kept, as docker keeps it), its labels passing.
func (f imagePruneFilter) removes(info cache.ImageInfo) bool {
	if !f.until.IsZero() && (info.Created.IsZero() || !info.Created.Before(f.until)) {
		return false
	}
	for _, c := range f.labels {
		if !c.pass(info.Config.Config.Labels) {
			return false
		}
	}
	return true
}

// pruneGarbage is the collection prune runs after its untags: collectGarbage, except that with
// a filter the dangling images (those no name reaches, which the collection otherwise
// removes whatever they are) that it does not remove are kept, manifest, config, layers and
// layer dirs, as docker's image prune --filter until= removes only the dangling images
// created before it, and --filter label= only those with the label. The rest is as ever:
// blobs no image reaches and layer dirs no image or container uses go.
func pruneGarbage(ctx context.Context, g *globals, dryRun bool, f imagePruneFilter) (garbage, error) {
	if f.none() {
		return collectGarbage(ctx, g, dryRun, nil)
	}
	return collectGarbage(ctx, g, dryRun, func(store *cache.Store) ([]cache.ImageInfo, error) {
		return keptDangling(store, f)
	})
}

// keptDangling describes the stored images no name reaches that f does not remove.
func keptDangling(store *cache.Store, f imagePruneFilter) ([]cache.ImageInfo, error) {
	unreached, err := store.Unreached()
	if err != nil {
		return nil, err
	}
	var kept []cache.ImageInfo
	for _, info := range unreached {
		if !f.removes(info) {
			kept = append(kept, info)
		}
	}
	return kept, nil
}
