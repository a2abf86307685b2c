package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestPlanStopsAtFirstFailure: WriteIndex stops reading an index's manifests once one read
// failed, and fails with the first listed failure. It read every one of them whatever failed:
// an index of MaxIndexManifests entries whose reads each stall a registry's minute (tried
// twice) held `pull --all-platforms` for hours, three at a time, to fail with the first
// one's error. Here each read fails after a pause, and no more than Concurrency are read.
func TestPlanStopsAtFirstFailure(t *testing.T) {
	const n, concurrency = 300, 3
	children := make([]v1.Descriptor, n)
	for i := range children {
		children[i] = v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: digestOf(fmt.Appendf(nil, "child %d", i)), Size: 500, Platform: &amd64}
	}
	var running, most atomic.Int64
	idx := &fakeIndex{raw: rawIndex(t, children...)}
	idx.child = func(h v1.Hash) (v1.Image, error) {
		now := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond) // a registry that stalls, shortened
		if h == children[0].Digest {
			return nil, fmt.Errorf("image %s: %w", h, ErrNotFound)
		}
		return nil, fmt.Errorf("image %s: stalled", h)
	}
	s := openStore(t, t.TempDir())
	_, err := s.WriteIndex(context.Background(), "example.com/stalling:1", idx, WriteOptions{Concurrency: concurrency})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("WriteIndex() = %v, want the first listed failure (%v)", err, ErrNotFound)
	}
	if got := idx.fetches.Load(); got > concurrency {
		t.Errorf("WriteIndex read %d of the %d manifests after the first failed, want at most %d", got, n, concurrency)
	}
	if m := most.Load(); m > concurrency {
		t.Errorf("WriteIndex read %d manifests at once, want at most %d", m, concurrency)
	}
	if _, err := s.Resolve("example.com/stalling:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after the failed WriteIndex = %v, want ErrNotFound", err)
	}
}
