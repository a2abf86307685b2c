package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var errRefused = errors.New("429 too many requests (retried by the transport)")

// TestRefusedFetchNotRetried: a fetch the registry refuses before any body (the transport has
// already retried it, honouring Retry-After) is final for the blob. Retried again here, each
// refusal cost the transport's waits once more per Retries: a registry answering every blob
// 429 held a pull for minutes. A resume refused after a drop keeps the partial.
func TestRefusedFetchNotRetried(t *testing.T) {
	img := imageOf(t, seededLayers(t, 23, 1, 256<<10)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	blob := reg.blobs[layer.Digest]
	var calls atomic.Int64
	fetch := func(_ context.Context, _ v1.Hash, off int64) (io.ReadCloser, error) {
		if calls.Add(1) == 1 {
			// The first response drops after 128 KiB: progress, then the resume is refused.
			return io.NopCloser(&failingReader{r: bytes.NewReader(blob[off : off+128<<10]), err: errDropped}), nil
		}
		return nil, errRefused
	}
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: fetch, Retries: 5})
	if !errors.Is(err, errRefused) {
		t.Fatalf("WriteImage with the resume refused = %v, want the refusal", err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("the registry was asked %d times, want 2 (the drop, then one refused resume)", got)
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial"))
	if err != nil || fi.Size() != 128<<10 {
		t.Errorf("partial after the refusal = %v, %v, want the 128 KiB fetched kept", fi, err)
	}
}
