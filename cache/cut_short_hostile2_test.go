package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestCutShortWorded: a registry that ends every response of a blob early (it closes the
// connection a few bytes in) fails the pull in words that say so. It said "fetching at offset
// 400 after 4 attempts: unexpected EOF", and "Resuming … after: unexpected EOF": Go's words
// for a short read, which named neither the registry nor what it did.
func TestCutShortWorded(t *testing.T) {
	img := imageOf(t, seededLayers(t, 31, 1, 64<<10)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	blob := reg.blobs[layer.Digest]
	for _, how := range []string{"body ends", "read fails"} {
		t.Run(how, func(t *testing.T) {
			var calls atomic.Int64
			fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
				calls.Add(1)
				r := io.Reader(bytes.NewReader(blob[off:min(off+100, int64(len(blob)))]))
				if how == "read fails" { // net/http's answer to a body shorter than its Content-Length
					r = &failingReader{r: r, err: io.ErrUnexpectedEOF}
				}
				return io.NopCloser(r), nil
			}
			var resumed []string
			s := openStore(t, t.TempDir())
			in := ingest{desc: layer, fetch: fetch, retries: 3, event: func(k EventKind, _ int64, err error) {
				if k == Resuming && err != nil {
					resumed = append(resumed, err.Error())
				}
			}}
			_, err := s.ingest(context.Background(), in)
			if err == nil {
				t.Fatal("ingest succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(msg, "closed the connection") || strings.Contains(msg, "unexpected EOF") {
				t.Errorf("ingest = %q, want it to say the registry closed the connection, not Go's unexpected EOF", msg)
			}
			for _, r := range resumed {
				if strings.Contains(r, "unexpected EOF") {
					t.Errorf("resumed after %q", r)
				}
			}
		})
	}
}

// TestBlobShorterThanItsSize: a manifest that gives a layer more bytes than the blob has (a
// registry's lie, or a tool's bug) made the pull resume past the blob's end: the registry
// answered that Range with an error ("blob … not found" from some, 416 from others), the
// partial was kept, and every later pull failed the same way, naming the wrong cause. A blob
// that ends early with every byte hashing to its digest is whole: refused as a size mismatch
// that says both sizes, with nothing kept.
func TestBlobShorterThanItsSize(t *testing.T) {
	img := imageOf(t, seededLayers(t, 32, 1, 64<<10)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	blob := reg.blobs[layer.Digest]
	var calls atomic.Int64
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		if calls.Add(1) > 1 {
			return nil, errors.New("blob not found") // what a registry says of a Range past the end
		}
		return io.NopCloser(bytes.NewReader(blob[off:])), nil
	}
	lying := layer
	lying.Size += 1000
	s := openStore(t, t.TempDir())
	_, err := s.ingest(context.Background(), ingest{desc: lying, fetch: fetch, retries: 3, event: func(EventKind, int64, error) {}})
	t.Log(err)
	if !errors.Is(err, ErrSizeMismatch) || !strings.Contains(err.Error(), fmt.Sprint(len(blob))) || !strings.Contains(err.Error(), fmt.Sprint(lying.Size)) {
		t.Errorf("ingest = %v, want a size mismatch naming %d and %d bytes", err, len(blob), lying.Size)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fetched %d times, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial kept after the mismatch: %v", err)
	}
}

// TestWholePartialShorterThanItsSize: a partial that an earlier pull kept holding the whole of
// a blob that the manifest gives more bytes is refused as the size mismatch, and removed,
// before any request: every pull of the image failed on the registry's answer to the Range
// past the blob's end.
func TestWholePartialShorterThanItsSize(t *testing.T) {
	img := imageOf(t, seededLayers(t, 33, 1, 64<<10)...)
	layer := layerDescs(t, img)[0]
	reg := newFakeRegistry(t, img)
	blob := reg.blobs[layer.Digest]
	s := openStore(t, t.TempDir())
	partial := filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial")
	if err := os.WriteFile(partial, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	lying := layer
	lying.Size += 1000
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		return nil, errors.New("blob not found")
	}
	_, err := s.ingest(context.Background(), ingest{desc: lying, fetch: fetch, retries: 3, event: func(EventKind, int64, error) {}})
	if !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("ingest = %v, want a size mismatch", err)
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial kept after the mismatch: %v", err)
	}
}
