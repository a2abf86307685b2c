package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// gunzipLayer is a LayerFunc that, as the snapshotter's unpack does, refuses a stream that
// does not decompress, and keeps the last stream it accepted.
type gunzipLayer struct {
	mu    sync.Mutex
	got   map[v1.Hash][]byte
	calls int
}

func (g *gunzipLayer) layer(_ context.Context, desc v1.Descriptor, _ v1.Hash, r io.Reader) error {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	var all bytes.Buffer
	zr, err := gzip.NewReader(io.TeeReader(r, &all))
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return err
	}
	if _, err := io.Copy(&all, r); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got[desc.Digest] = all.Bytes()
	return nil
}

// TestDamagedPartialStartsOver: a partial file whose bytes are not the blob's prefix (what a
// crash leaves of a download never synced: zeros, or stale blocks) made the layer's unpack
// fail on the replay, was kept for that failure, and failed every later pull the same way.
// The pull now drops it and downloads the layer again, once, and completes; with no layer
// consumer, the digest mismatch at the end does the same.
func TestDamagedPartialStartsOver(t *testing.T) {
	img := imageOf(t, seededLayers(t, 71, 1, 256<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[0]
	blob := reg.blobs[layer.Digest]
	zeroed := bytes.Clone(blob[:len(blob)/2])
	clear(zeroed[len(zeroed)-8192:])
	random := bytes.Repeat([]byte("not a gzip stream "), 1000)
	for _, tt := range []struct {
		name    string
		partial []byte
		unpack  bool
	}{
		{"zeroed tail, unpacked", zeroed, true},
		{"not the blob, unpacked", random, true},
		{"zeroed tail, not unpacked", zeroed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := newFakeRegistry(t, img)
			s := openStore(t, t.TempDir())
			partial := filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")
			if err := os.WriteFile(partial, tt.partial, 0o644); err != nil {
				t.Fatal(err)
			}
			g := &gunzipLayer{got: map[v1.Hash][]byte{}}
			opts := WriteOptions{Fetch: reg.fetch}
			if tt.unpack {
				opts.Layer = g.layer
			}
			if _, err := s.WriteImage(context.Background(), testRef, img, opts); err != nil {
				t.Fatalf("WriteImage over a damaged partial = %v, want it to start the layer over", err)
			}
			if tt.unpack && !bytes.Equal(g.got[layer.Digest], blob) {
				t.Errorf("Layer accepted %d bytes, want the blob's %d", len(g.got[layer.Digest]), len(blob))
			}
			calls := reg.callsFor(layer.Digest)
			// A replay refused before any fetch leaves the resume unasked.
			if len(calls) == 0 || len(calls) > 2 || calls[len(calls)-1].offset != 0 {
				t.Errorf("fetches of the layer = %+v, want at most a resume, then one from offset 0", calls)
			}
			checkBlobsHashToNames(t, s)
			checkIngestEmpty(t, s)
		})
	}
}

// TestLayerFailureOnFreshDownloadNotRetried: a layer consumer that fails on a download that
// resumed nothing is not retried (the partial did not cause it), and a cancelled pull keeps its
// partial for the next one.
func TestLayerFailureOnFreshDownloadNotRetried(t *testing.T) {
	img := imageOf(t, seededLayers(t, 72, 1, 64<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[0]
	s := openStore(t, t.TempDir())
	refuse := errors.New("layer refused")
	calls := 0
	fn := func(_ context.Context, _ v1.Descriptor, _ v1.Hash, r io.Reader) error {
		calls++
		return refuse
	}
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch, Layer: fn}); !errors.Is(err, refuse) {
		t.Fatalf("WriteImage = %v, want the layer's error", err)
	}
	if calls != 1 {
		t.Errorf("Layer called %d times for a fresh download, want 1", calls)
	}

	// A partial replayed into a consumer that stops because the pull is cancelled stays.
	blob := reg.blobs[layer.Digest]
	partial := filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")
	if err := os.WriteFile(partial, blob[:len(blob)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelling := func(ctx context.Context, _ v1.Descriptor, _ v1.Hash, r io.Reader) error {
		cancel()
		return context.Cause(ctx)
	}
	if _, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch, Layer: cancelling}); err == nil {
		t.Fatal("WriteImage cancelled by its layer = nil")
	}
	if fi, err := os.Stat(partial); err != nil || fi.Size() != int64(len(blob)/2) {
		t.Errorf("partial after a cancelled pull = %v, %v, want it kept", fi, err)
	}
}
