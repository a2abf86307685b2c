package serve

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// TestServeZeroSuffixRange: a suffix range of no byte ("bytes=-0") is unsatisfiable (RFC 9110
// 14.1.1), as a range past the end is: 416 with "bytes */N". It was 206 with no body and the
// Content-Range "bytes N-(N-1)/N", and in a list of ranges a part of that range.
func TestServeZeroSuffixRange(t *testing.T) {
	store, manifest, layer := hostileStore(t)
	h := New(store, Options{})
	blob, err := store.ReadBlob(layer, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := store.ReadBlob(manifest, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		data []byte
	}{
		{"/v2/library/img/blobs/" + layer.String(), blob},
		{"/v2/library/img/manifests/" + manifest.String(), raw},
	} {
		n := len(c.data)
		for _, tt := range []struct {
			method, rng  string
			status       int
			contentRange string
			body         []byte
		}{
			{"GET", "bytes=-0", 416, fmt.Sprintf("bytes */%d", n), nil},
			{"HEAD", "bytes=-0", 416, fmt.Sprintf("bytes */%d", n), nil},
			{"GET", "bytes= -0 ", 416, fmt.Sprintf("bytes */%d", n), nil},
			{"GET", "bytes=0-1,-0", 206, fmt.Sprintf("bytes 0-1/%d", n), c.data[:2]},
			{"GET", "bytes=-0,0-1", 206, fmt.Sprintf("bytes 0-1/%d", n), c.data[:2]},
			// What was right stays so.
			{"GET", "bytes=-1", 206, fmt.Sprintf("bytes %d-%d/%d", n-1, n-1, n), c.data[n-1:]},
			{"GET", "bytes=-00x", 416, "", nil},
		} {
			rec := serveRaw(h, tt.method, c.path, http.Header{"Range": {tt.rng}})
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status || rec.Header().Get("Content-Range") != tt.contentRange {
				t.Errorf("%s %.40s Range %q = %d Content-Range %q, want %d %q", tt.method, c.path, tt.rng, rec.Code, rec.Header().Get("Content-Range"), tt.status, tt.contentRange)
				continue
			}
			if tt.status == 206 && !bytes.Equal(body, tt.body) {
				t.Errorf("%s %.40s Range %q = %q, want %q", tt.method, c.path, tt.rng, body, tt.body)
			}
		}
	}
}
