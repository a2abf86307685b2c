package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// errDropped stands for a connection that dies mid-blob.
var errDropped = errors.New("connection reset by test")

// fakeRegistry serves layer blobs of images from memory through a Fetcher, counting what it
// serves and failing on request. It stands in for registry's Range-capable fetch.
type fakeRegistry struct {
	mu    sync.Mutex
	blobs map[v1.Hash][]byte
	// calls records every fetch, in order.
	calls []fetchCall
	// served counts bytes handed out per digest.
	served map[v1.Hash]int64
	// dropAfter makes the next fetch of a digest fail after that many bytes of the blob.
	dropAfter map[v1.Hash]int64
	// corrupt flips a byte in what is served for a digest.
	corrupt map[v1.Hash]bool
	// failAll makes every fetch fail at once.
	failAll bool
}

type fetchCall struct {
	digest v1.Hash
	offset int64
}

func newFakeRegistry(t testing.TB, imgs ...v1.Image) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{
		blobs:     map[v1.Hash][]byte{},
		served:    map[v1.Hash]int64{},
		dropAfter: map[v1.Hash]int64{},
		corrupt:   map[v1.Hash]bool{},
	}
	for _, img := range imgs {
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			r.blobs[d] = b
		}
	}
	return r
}

func (r *fakeRegistry) fetch(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fetchCall{h, off})
	if r.failAll {
		return nil, errDropped
	}
	b, ok := r.blobs[h]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	if off > int64(len(b)) {
		return nil, fmt.Errorf("offset %d beyond blob of %d bytes", off, len(b))
	}
	b = append([]byte(nil), b[off:]...)
	if r.corrupt[h] && len(b) > 0 {
		b[len(b)-1] ^= 0xff
	}
	var err error
	if n, ok := r.dropAfter[h]; ok {
		delete(r.dropAfter, h)
		b = b[:n-off]
		err = errDropped
	}
	r.served[h] += int64(len(b))
	return io.NopCloser(&failingReader{r: bytes.NewReader(b), err: err}), nil
}

func (r *fakeRegistry) callsFor(h v1.Hash) []fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []fetchCall
	for _, c := range r.calls {
		if c.digest == h {
			out = append(out, c)
		}
	}
	return out
}

func (r *fakeRegistry) servedFor(h v1.Hash) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.served[h]
}

// failingReader returns err instead of io.EOF once r is drained (nil err means io.EOF).
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF && f.err != nil {
		return n, f.err
	}
	return n, err
}

// seededLayers returns n random layers of size bytes, the same for the same seed in any
// process running this test binary.
func seededLayers(t testing.TB, seed int64, n int, size int64) []v1.Layer {
	t.Helper()
	src := rand.NewSource(seed)
	var ls []v1.Layer
	for range n {
		l, err := random.Layer(size, types.DockerLayer, random.WithSource(src))
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dir, err)
	}
	return s
}

func layerDescs(t testing.TB, img v1.Image) []v1.Descriptor {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers
}

// layerRecorder is a LayerFunc that keeps every stream it is given.
type layerRecorder struct {
	mu  sync.Mutex
	got map[v1.Hash][]byte
	n   map[v1.Hash]int
}

func newLayerRecorder() *layerRecorder {
	return &layerRecorder{got: map[v1.Hash][]byte{}, n: map[v1.Hash]int{}}
}

func (l *layerRecorder) layer(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got[desc.Digest] = b
	l.n[desc.Digest]++
	return nil
}
