package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/cache"
)

// TestPruneFilterUntilDangling: prune --filter until= without -a removes only the dangling
// images (no name reaches them) created before the time, as docker's image prune --filter
// until=24h does; the younger dangling image stays whole, and the other garbage still goes.
// The filter was passed to -a's untags alone, and the collection removed every dangling
// image whatever its age.
func TestPruneFilterUntilDangling(t *testing.T) {
	root := loadedTestImages(t)
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := store.Infos()
	if err != nil {
		t.Fatal(err)
	}
	var alpine, busybox cache.ImageInfo
	for _, info := range infos {
		switch {
		case strings.Contains(info.Ref, "alpine"):
			alpine = info
		case strings.Contains(info.Ref, "busybox"):
			busybox = info
		}
		// Every name goes, and no collection runs: both images are dangling.
		if err := store.Untag(info.Ref); err != nil {
			t.Fatal(err)
		}
	}
	if alpine.Ref == "" || busybox.Ref == "" {
		t.Fatalf("images = %v, want alpine and busybox", infos)
	}
	// alpine was built in 2024, busybox in 2026.
	dry, err := strata(t, root, nil, "prune", "--dry-run", "--filter", "until=2025-06-01")
	if err != nil || !strings.Contains(dry, alpine.ID.String()) || strings.Contains(dry, busybox.ID.String()) {
		t.Errorf("prune --dry-run --filter until=2025-06-01 = %q, %v; want alpine's config %s, not busybox's %s", dry, err, alpine.ID, busybox.ID)
	}
	out, err := strata(t, root, nil, "image", "prune", "-f", "--filter", "until=2025-06-01")
	if err != nil || !strings.Contains(out, alpine.ID.String()) || strings.Contains(out, busybox.ID.String()) {
		t.Errorf("prune --filter until=2025-06-01 = %q, %v; want alpine's config deleted, busybox's kept", out, err)
	}
	shared := map[string]bool{}
	for _, b := range busybox.Blobs {
		shared[b.Digest.String()] = true
	}
	for _, b := range alpine.Blobs {
		if store.HasBlob(b.Digest) && !shared[b.Digest.String()] {
			t.Errorf("alpine's blob %s is left", b.Digest)
		}
	}
	for _, b := range busybox.Blobs {
		if !store.HasBlob(b.Digest) {
			t.Errorf("busybox's blob %s was removed", b.Digest)
		}
	}
	// Without the filter, the dangling busybox goes too.
	out, err = strata(t, root, nil, "prune")
	if err != nil || !strings.Contains(out, busybox.ID.String()) {
		t.Errorf("prune = %q, %v; want busybox's config deleted", out, err)
	}
}
