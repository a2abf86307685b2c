package main

import (
	"archive/tar"
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestImportURLStalls: import of a URL whose server goes quiet, before its headers or in the
// middle of the tarball, fails as timed out once it has sent nothing for the stall limit, as
// a registry that stalls does; it waited forever (http.DefaultClient sets no timeout).
func TestImportURLStalls(t *testing.T) {
	defer func(l time.Duration) { importStallLimit = l }(importStallLimit)
	importStallLimit = 200 * time.Millisecond
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: 1 << 20, Typeflag: tar.TypeReg})
	tw.Write(make([]byte, 4096))
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "2000000")
			w.Write(tb.Bytes())
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, path := range []string{"/headers", "/body"} {
		done := make(chan error, 1)
		go func() {
			_, err := strata(t, t.TempDir(), nil, "import", srv.URL+path, "stalled:1")
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "\n") {
				t.Errorf("import of %s: %v, want one line saying it timed out", path, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("import of %s whose server sends nothing: still waiting after 30 s", path)
		}
	}
}
