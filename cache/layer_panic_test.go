package cache

import (
	"context"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestLayerPanicFailsLayer: a panic in the Layer callback, which parses what a registry sent
// (a bug hostile bytes found in the unpacker), fails that layer's write with an error, as
// well for a layer being downloaded as for one replayed from disk, instead of ending the
// process: `serve --pull-through` runs pulls for its clients and served on for none of them
// after one such layer, and a pull died with a goroutine dump instead of one line.
func TestLayerPanicFailsLayer(t *testing.T) {
	img := imageOf(t, seededLayers(t, 91, 2, 8<<10)...)
	reg := newFakeRegistry(t, img)
	panicky := func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 100))
		panic("hostile bytes")
	}
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	_, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch, Layer: panicky})
	if err == nil || !strings.Contains(err.Error(), "hostile bytes") {
		t.Fatalf("download with a panicking Layer: err = %v, want the panic as an error", err)
	}
	// Stored now without a callback; then replayed from disk to one that panics.
	if _, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	_, err = s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch, Layer: panicky, NeedLayer: func(v1.Hash) bool { return true }})
	if err == nil || !strings.Contains(err.Error(), "hostile bytes") {
		t.Fatalf("replay with a panicking Layer: err = %v, want the panic as an error", err)
	}
}
