package cache

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestInfosWhileRemoving lists images (Infos, as `strata images`, `system df` and `prune -a`
// do) while another Store on the same directory untags and prunes them one by one, as a
// concurrent rmi does: Infos must not fail. It read index.json, then each image, and failed
// whole on one removed in between ("inspecting x: not found").
func TestInfosWhileRemoving(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	const n = 100
	manifests := make([]string, n)
	for i := range n {
		img := imageOf(t, seededLayers(t, int64(i), 1, 64)...)
		res, err := s.WriteImage(context.Background(), fmt.Sprintf("example.com/img:%d", i), img, WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		manifests[i] = s.BlobPath(res.Manifest.Digest)
	}
	other := openStore(t, dir)
	var wg sync.WaitGroup
	wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(done)
		// Last first: the image Infos reads last is the one most likely removed after
		// Infos read index.json. Untag then the manifest's removal is what an rmi's
		// collection does, without the rest of Prune's time.
		for i := n - 1; i >= 0; i-- {
			if err := other.Untag(fmt.Sprintf("example.com/img:%d", i)); err != nil {
				t.Error(err)
			}
			if err := os.Remove(manifests[i]); err != nil {
				t.Error(err)
			}
		}
	}()
	fails, calls := 0, 0
	for loop := true; loop; calls++ {
		select {
		case <-done:
			loop = false
		default:
		}
		if _, err := s.Infos(); err != nil {
			if fails++; fails == 1 {
				t.Errorf("Infos while images are removed = %v", err)
			}
		}
	}
	wg.Wait()
	t.Logf("%d Infos calls", calls)
	if fails > 1 {
		t.Errorf("... %d of %d Infos failed", fails, calls)
	}
}
