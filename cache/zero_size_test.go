package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestZeroSizeLayer: a manifest that gives a layer of some content the size 0 is refused as
// the size mismatch it is: the pull read none of the blob and reported "digest mismatch:
// content hashes to sha256:e3b0c44298fc", the hash of nothing, which said the registry sent
// other bytes. A size-0 descriptor of empty content still stores the empty blob.
func TestZeroSizeLayer(t *testing.T) {
	img := imageOf(t, seededLayers(t, 33, 1, 4<<10)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	var calls atomic.Int64
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		calls.Add(1)
		return reg.fetch(ctx, h, off)
	}
	zero := layer
	zero.Size = 0
	s := openStore(t, t.TempDir())
	_, err := s.ingest(context.Background(), ingest{desc: zero, fetch: fetch, retries: 3, event: func(EventKind, int64, error) {}})
	if !errors.Is(err, ErrSizeMismatch) || errors.Is(err, ErrDigestMismatch) || strings.Contains(err.Error(), "hashes to") {
		t.Fatalf("ingest of a layer listed with 0 bytes = %v, want a size mismatch", err)
	}
	if !strings.Contains(err.Error(), "0 bytes") {
		t.Errorf("ingest = %q, want it to name the size the manifest gives", err)
	}
	if s.HasBlob(layer.Digest) {
		t.Error("the layer was stored")
	}

	empty := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}
	nothing := func(context.Context, v1.Hash, int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	if _, err := s.ingest(context.Background(), ingest{desc: empty, fetch: nothing, retries: 3, event: func(EventKind, int64, error) {}}); err != nil {
		t.Fatalf("ingest of the empty blob: %v", err)
	}
	if !s.HasBlob(empty.Digest) {
		t.Error("the empty blob was not stored")
	}
}
