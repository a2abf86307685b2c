package main

import (
	"context"
	"time"

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
		return collectGarbage(ctx, g, dryRun, nil)
	}
	return collectGarbage(ctx, g, dryRun, func(store *cache.Store) ([]cache.ImageInfo, error) {
		return youngDangling(store, until)
	})
}

// youngDangling describes the stored images no name reaches that were created at or after
// until, or give no time.
func youngDangling(store *cache.Store, until time.Time) ([]cache.ImageInfo, error) {
	unreached, err := store.Unreached()
	if err != nil {
		return nil, err
	}
	var young []cache.ImageInfo
	for _, info := range unreached {
		if info.Created.IsZero() || !info.Created.Before(until) {
			young = append(young, info)
		}
	}
	return young, nil
}
