package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// flipByte overwrites one byte of the file at path in place, keeping its size: the damage a
// size check cannot see.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// touchLater moves the file's mtime a second on, as a rewrite would on a file system whose clock
// is coarser than the test.
func touchLater(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
}

// TestServeBlobWrongContent: a blob file of the right size whose bytes are not the blob's
// (bit rot, a stray write) must never reach a client whole, as a full GET nor as ranges: the
// client asked for a digest, and a complete 200 or 206 of other bytes is a lie.
func TestServeBlobWrongContent(t *testing.T) {
	store, _, layer := hostileStore(t)
	// The last byte: a server that checks only after sending would have sent it all.
	fi, err := os.Stat(store.BlobPath(layer))
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, store.BlobPath(layer), fi.Size()-1)
	srv := httptest.NewServer(New(store, Options{}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/v2/library/img/blobs/" + layer.String()

	for _, rng := range []string{"", "bytes=0-", "bytes=-10", "bytes=0-1,5-"} {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // the server broke the connection off: the client has nothing whole
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode < 300 {
			t.Errorf("GET Range %q of a damaged blob = %d with %d bytes, complete; want an error or a broken body", rng, resp.StatusCode, len(body))
		}
	}

	// The same request still works for a sound blob, and a second time (once it is known good).
	store2, _, layer2 := hostileStore(t)
	srv2 := httptest.NewServer(New(store2, Options{}))
	t.Cleanup(srv2.Close)
	want, err := os.ReadFile(store2.BlobPath(layer2))
	if err != nil {
		t.Fatal(err)
	}
	for i, rng := range []string{"", "", "bytes=0-", "bytes=10-19"} {
		req, _ := http.NewRequest("GET", srv2.URL+"/v2/library/img/blobs/"+layer2.String(), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET #%d Range %q: %v", i, rng, err)
		}
		w := want
		if rng == "bytes=10-19" {
			w = want[10:20]
		}
		if !bytes.Equal(body, w) {
			t.Errorf("GET #%d Range %q = %d, %d bytes, want %d bytes of the blob", i, rng, resp.StatusCode, len(body), len(w))
		}
	}
}

// TestServeBlobFIFO: a FIFO where a blob should be must not hang the request in open(2); a
// client that can make the server open it would tie up a goroutine and a descriptor each time.
func TestServeBlobFIFO(t *testing.T) {
	store, _, layer := hostileStore(t)
	p := store.BlobPath(layer)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	h := New(store, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		rec := serveRaw(h, "GET", "/v2/library/img/blobs/"+layer.String(), nil)
		done <- rec.Code
	}()
	select {
	case code := <-done:
		if code < 400 {
			t.Errorf("GET of a FIFO blob = %d, want an error", code)
		}
	case <-ctx.Done():
		// Unblock the handler's open(2) so the test exits.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("GET of a FIFO blob hung in open(2)")
	}
}

// TestServeBlobSymlinkOutside: a blob that is a symlink to a file outside the store, even of
// the blob's size, is not served: the bytes are not the blob's.
func TestServeBlobSymlinkOutside(t *testing.T) {
	store, _, layer := hostileStore(t)
	p := store.BlobPath(layer)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir() + "/outside"
	if err := os.WriteFile(outside, bytes.Repeat([]byte(secret), int(fi.Size())/len(secret)+1)[:fi.Size()], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, p); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(store, Options{}))
	t.Cleanup(srv.Close)
	for _, rng := range []string{"", "bytes=0-99"} {
		req, _ := http.NewRequest("GET", srv.URL+"/v2/library/img/blobs/"+layer.String(), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("GET Range %q of a blob symlinked outside the store served the file outside", rng)
		}
	}
}

// TestServeManifestIfNoneMatch: a client revalidating a manifest with the ETag it holds gets a
// 304 and no body, as docker's registry answers (registry/handlers/manifests.go etagMatch).
func TestServeManifestIfNoneMatch(t *testing.T) {
	store, manifest, layer := hostileStore(t)
	h := New(store, Options{})
	for _, tt := range []struct{ path, etag string }{
		{"/v2/library/img/manifests/1", `"` + manifest.String() + `"`},
		{"/v2/library/img/manifests/" + manifest.String(), `"` + manifest.String() + `"`},
		{"/v2/library/img/blobs/" + layer.String(), `"` + layer.String() + `"`},
	} {
		path, etag := tt.path, tt.etag
		for _, method := range []string{"GET", "HEAD"} {
			rec := serveRaw(h, method, path, http.Header{"If-None-Match": {etag}})
			if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
				t.Errorf("%s %s If-None-Match %s = %d with %d bytes, want 304 and no body", method, path, etag, rec.Code, rec.Body.Len())
			}
			rec = serveRaw(h, method, path, http.Header{"If-None-Match": {`"sha256:other"`}})
			if rec.Code != http.StatusOK {
				t.Errorf("%s %s If-None-Match of another digest = %d, want 200", method, path, rec.Code)
			}
		}
	}
}

// TestServeManifestAccept: a client whose Accept header lists manifest types, none of them the
// stored one, gets MANIFEST_UNKNOWN saying so, as docker's registry answers (an old client
// handed an index it cannot parse fails on it with a worse message); no Accept header, a
// wildcard, or a list with the type gets the manifest.
func TestServeManifestAccept(t *testing.T) {
	store, _, _ := hostileStore(t)
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteIndex(context.Background(), "docker.io/library/img:multi", idx, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	h := New(store, Options{})
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
		dockerV2    = "application/vnd.docker.distribution.manifest.v2+json"
	)
	tests := []struct {
		path   string
		accept []string
		want   int
	}{
		{"/v2/library/img/manifests/multi", nil, 200},
		{"/v2/library/img/manifests/multi", []string{ociManifest}, 404},
		{"/v2/library/img/manifests/multi", []string{ociManifest + ", " + dockerV2}, 404},
		{"/v2/library/img/manifests/multi", []string{ociManifest, ociIndex + "; q=0.5"}, 200},
		{"/v2/library/img/manifests/multi", []string{ociManifest + ", */*"}, 200},
		{"/v2/library/img/manifests/multi", []string{"application/json"}, 200},
		{"/v2/library/img/manifests/multi", []string{"garbage;;;, ,"}, 200},
		// A Docker manifest goes to any client, as docker's registry serves it.
		{"/v2/library/img/manifests/1", []string{ociIndex}, 200},
		{"/v2/library/img/manifests/1", []string{ociManifest}, 200},
		{"/v2/library/img/manifests/1", []string{ociManifest, dockerV2}, 200},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			rec := serveRaw(h, method, tt.path, http.Header{"Accept": tt.accept})
			if rec.Code != tt.want {
				t.Errorf("%s %s Accept %q = %d %s, want %d", method, tt.path, tt.accept, rec.Code, rec.Body.Bytes(), tt.want)
			}
		}
	}
}

// TestServeHeadMatchesGet: HEAD answers with the status and headers of the GET (Content-Length
// included, errors too: a client sizes its read by it) and no body (RFC 9110 section 9.3.2).
func TestServeHeadMatchesGet(t *testing.T) {
	store, manifest, layer := hostileStore(t)
	srv := httptest.NewServer(New(store, Options{}))
	t.Cleanup(srv.Close)
	for _, p := range []string{
		"/v2/", "/v2/_catalog", "/v2/library/img/tags/list?n=0",
		"/v2/library/img/manifests/1", "/v2/library/img/manifests/" + manifest.String(),
		"/v2/library/img/blobs/" + layer.String(),
		"/v2/nope/manifests/1", "/v2/library/img/blobs/sha256:bad", "/v2/_catalog?n=x", "/v2/UPPER/tags/list",
	} {
		var got [2]*http.Response
		for i, m := range []string{"GET", "HEAD"} {
			req, err := http.NewRequest(m, srv.URL+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD %s sent a body of %d bytes", p, len(body))
			}
			resp.Header.Del("Date")
			got[i] = resp
		}
		g, h := got[0], got[1]
		if g.StatusCode != h.StatusCode || g.ContentLength != h.ContentLength || fmt.Sprint(g.Header) != fmt.Sprint(h.Header) {
			t.Errorf("HEAD %s = %d %v, want the GET's %d %v", p, h.StatusCode, h.Header, g.StatusCode, g.Header)
		}
	}
}

// TestServeRangesHashOnce: concurrent ranged GETs of a blob not yet known sound hash it once
// between them, not once each: a burst of them would otherwise read a large blob whole as many
// times.
func TestServeRangesHashOnce(t *testing.T) {
	store, _, layer := hostileStore(t)
	h := New(store, Options{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := serveRaw(h, "GET", "/v2/library/img/blobs/"+layer.String(), http.Header{"Range": {"bytes=1-2"}})
			if rec.Code != http.StatusPartialContent {
				t.Errorf("ranged GET = %d, want 206", rec.Code)
			}
		}()
	}
	wg.Wait()
	if n := h.verified.hashed.Load(); n != 1 {
		t.Errorf("20 concurrent ranged GETs hashed the blob %d times, want 1", n)
	}
}

// TestServeHeadDamagedBlob: HEAD of a blob whose file keeps its size but not its bytes answers
// as the GET does (a server error), not 200: a client that HEADs before it GETs would be told
// the blob is there and then fail on it. A blob file is hashed once per identity, whatever the
// verdict: repeated HEADs of a large blob, sound or damaged, do not read it whole each time,
// and a file rewritten since is hashed again.
func TestServeHeadDamagedBlob(t *testing.T) {
	store, _, layer := hostileStore(t)
	h := New(store, Options{})
	path := "/v2/library/img/blobs/" + layer.String()

	for i := range 2 {
		if rec := serveRaw(h, "HEAD", path, nil); rec.Code != http.StatusOK {
			t.Fatalf("HEAD #%d of a sound blob = %d, want 200", i, rec.Code)
		}
	}
	if n := h.verified.hashed.Load(); n != 1 {
		t.Errorf("two HEADs of a sound blob hashed it %d times, want 1", n)
	}

	flipByte(t, store.BlobPath(layer), 0)
	touchLater(t, store.BlobPath(layer)) // a new mtime: another file to the server
	for i := range 3 {
		rec := serveRaw(h, "HEAD", path, nil)
		get := serveRaw(h, "GET", path, http.Header{"Range": {"bytes=0-9"}})
		if rec.Code != http.StatusInternalServerError || get.Code != rec.Code {
			t.Errorf("#%d: HEAD of a damaged blob = %d, ranged GET = %d; want both 500", i, rec.Code, get.Code)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("#%d: HEAD sent a body of %d bytes", i, rec.Body.Len())
		}
	}
	if n := h.verified.hashed.Load(); n != 2 {
		t.Errorf("the blob was hashed %d times in all, want 2 (once sound, once damaged)", n)
	}
	// A full GET, known damaged, is refused before any byte goes out.
	if rec := serveRaw(h, "GET", path, nil); rec.Code != http.StatusInternalServerError {
		t.Errorf("full GET of a blob known damaged = %d, want 500", rec.Code)
	}

	// Repaired in place (a new mtime again): sound once more.
	flipByte(t, store.BlobPath(layer), 0)
	touchLater(t, store.BlobPath(layer))
	if rec := serveRaw(h, "HEAD", path, nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD of the repaired blob = %d, want 200", rec.Code)
	}
}

// TestServeHeadAfterDamagedGet: a full GET that finds the blob damaged as it streams remembers
// it, so the HEAD after it answers 500 without hashing the file again.
func TestServeHeadAfterDamagedGet(t *testing.T) {
	store, _, layer := hostileStore(t)
	fi, err := os.Stat(store.BlobPath(layer))
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, store.BlobPath(layer), fi.Size()-1)
	h := New(store, Options{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	url := srv.URL + "/v2/library/img/blobs/" + layer.String()
	if resp, err := http.Get(url); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Head(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("HEAD after a GET found the blob damaged = %d, want 500", resp.StatusCode)
	}
	if n := h.verified.hashed.Load(); n != 0 {
		t.Errorf("HEAD hashed the blob %d times after the GET found it damaged, want 0", n)
	}
}
