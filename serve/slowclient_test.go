package serve

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	// Far more than the loopback socket buffers of both ends hold.
	store, layer := storeBigImage(t, 32<<20)

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

// smallSendBuffer is a listener whose connections have a small send buffer, so that a send
// completes about when the client has read it, as on a slow link.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestServeSlowSteadyReader: the stall timeout ends responses that make no progress, not slow
// ones. A client that keeps reading, slower than one sendfile chunk per timeout, gets the whole
// blob: with 1 MiB chunks and the two minute timeout, any download under 8.7 KiB/s was cut off
// while moving.
func TestServeSlowSteadyReader(t *testing.T) {
	store, layer := storeBigImage(t, 3<<19)
	h := New(store, Options{})
	h.stallTimeout = 2 * time.Second
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallSendBuffer{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	path := "/v2/library/big/blobs/" + layer.String()
	// The first GET hashes the blob; the slow one goes by sendfile.
	if resp, err := http.Get(srv.URL + path); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(32 << 10)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// 16 KiB every 50 ms: at most 320 KiB/s, a 1 MiB chunk in over 3 s, past the 2 s timeout.
	d := sha256.New()
	var n int64
	buf := make([]byte, 16<<10)
	start := time.Now()
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		m, err := io.ReadFull(resp.Body, buf)
		d.Write(buf[:m])
		n += int64(m)
		if err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := "sha256:" + hex.EncodeToString(d.Sum(nil)); n != resp.ContentLength || got != layer.String() {
		t.Errorf("a steady reader at ~320 KiB/s with a 2 s stall timeout got %d of %d bytes (%s), want the whole blob", n, resp.ContentLength, got)
	}
	if rate := float64(n) / time.Since(start).Seconds(); rate > 1<<20 {
		t.Errorf("the steady reader read %.0f KiB/s: not slow enough for a 1 MiB chunk to take over the timeout", rate/1024)
	}
}

// storeBigImage stores a random image of one layer of size bytes as library/big:1 in a new
// store, and returns the store and the layer's digest.
func storeBigImage(t *testing.T, size int64) (*cache.Store, v1.Hash) {
	t.Helper()
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(size, 1)
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
	return store, layer
}
