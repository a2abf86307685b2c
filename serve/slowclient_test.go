package serve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// TestServeClientNeverReads: a client that asks for a large blob and never reads the answer
// must not hold the server's goroutine and the blob's descriptor for good: once no byte has
// gone out for the stall timeout, the server gives the connection up.
func TestServeClientNeverReads(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	// Far more than the loopback socket buffers of both ends hold.
	img, err := random.Image(32<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), "docker.io/library/big:1", img, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}

	h := New(store, Options{})
	h.stallTimeout = 300 * time.Millisecond
	done := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer once.Do(func() { close(done) })
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /v2/library/big/blobs/%s HTTP/1.1\r\nHost: x\r\n\r\n", layer)

	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler still blocks writing to a client that reads nothing")
	}

	// A client that reads gets the whole blob: the first GET hashes as it streams, the second
	// goes by sendfile in stall-sized chunks.
	for i := 0; i < 2; i++ {
		resp, err := http.Get(srv.URL + "/v2/library/big/blobs/" + layer.String())
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := v1.SHA256(resp.Body)
		resp.Body.Close()
		if err != nil || got != layer || resp.StatusCode != 200 {
			t.Errorf("GET #%d of the large blob = %d, %d bytes hashing to %s (%v), want %s", i, resp.StatusCode, n, got, err, layer)
		}
	}
}

// TestServeSlowPullThenHead: the stall timeout counts from the last write, not from the
// request: a HEAD (headers only) answered after a pull-through longer than the timeout still
// reaches the client.
func TestServeSlowPullThenHead(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	pull := func(ctx context.Context, name, ref string) error {
		time.Sleep(500 * time.Millisecond)
		_, err := store.WriteImage(ctx, "docker.io/"+name+":"+ref, img, cache.WriteOptions{})
		return err
	}
	h := New(store, Options{PullThrough: pull})
	h.stallTimeout = 100 * time.Millisecond
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("HEAD", srv.URL+"/v2/library/slow/manifests/1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("HEAD after a pull-through slower than the stall timeout: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD after a pull-through = %d, want 200", resp.StatusCode)
	}
}

// TestServeBodyNeverSent: a request that declares a body and never sends it must still be
// answered, and its connection let go. net/http reads a declared body (up to 256 KiB) before
// it answers and again when the handler is done, with no deadline unless one is set; this
// registry reads no body, so such a client held a goroutine and a connection for good.
func TestServeBodyNeverSent(t *testing.T) {
	store, _, layer := hostileStore(t)
	srv := httptest.NewServer(New(store, Options{}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct{ method, path, hdr string }{
		{"GET", "/v2/", "Content-Length: 100"},
		{"GET", "/v2/library/img/blobs/" + layer.String(), "Content-Length: 1000"},
		{"HEAD", "/v2/library/img/manifests/1", "Transfer-Encoding: chunked"},
		{"PUT", "/v2/library/img/manifests/1", "Content-Length: 100"},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", tt.method, tt.path, tt.hdr)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, &http.Request{Method: tt.method})
		if err != nil {
			t.Errorf("%s %s with %s and no body: no answer: %v", tt.method, tt.path, tt.hdr, err)
			conn.Close()
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s %s with %s and no body: connection after the answer: %v, want closed (EOF)", tt.method, tt.path, tt.hdr, err)
		}
		conn.Close()
	}
}
