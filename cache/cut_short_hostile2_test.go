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
