package registry

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// manifestCounter counts the Manifest calls of the image it wraps.
type manifestCounter struct {
	v1.Image
	n atomic.Int64
}

func (m *manifestCounter) Manifest() (*v1.Manifest, error) {
	m.n.Add(1)
	return m.Image.Manifest()
}

// TestFetchBlobReadsManifestOnce: go-containerregistry parses the manifest again on every
// Manifest call. FetchBlob looked each blob's size up that way, so a pull of a manifest of
// 20,000 layers (3 MB, under MaxManifestSize) parsed 3 MB 20,000 times: minutes of CPU that
// the registry chose. The sizes are read once, when the image is resolved.
func TestFetchBlobReadsManifestOnce(t *testing.T) {
	img, err := random.Image(64, 30)
	if err != nil {
		t.Fatal(err)
	}
	ref := pushImage(t, serve(t, nil)+"/many/layers:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := p.Image(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	m, err := got.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	counted := &manifestCounter{Image: got.Image}
	got.Image = counted
	for _, l := range m.Layers {
		// From an offset: the Range is closed with the size the manifest gives.
		body, err := got.FetchBlob(ctx, l.Digest, 1)
		if err != nil {
			t.Fatalf("FetchBlob(%s, 1) = %v", l.Digest, err)
		}
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil || int64(len(b)) != l.Size-1 {
			t.Fatalf("FetchBlob(%s, 1) read %d bytes, %v; want %d", l.Digest, len(b), err, l.Size-1)
		}
	}
	if n := counted.n.Load(); n != 0 {
		t.Errorf("FetchBlob of %d layers parsed the manifest %d times, want 0", len(m.Layers), n)
	}
}
