package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/registry"
)

// TestPullThrough serves a miss by pulling from an upstream registry (go-containerregistry's
// in-memory one): the first request fills the store, later ones are served from it, and a
// manifest upstream lacks is a 404.
func TestPullThrough(t *testing.T) {
	var manifestGets atomic.Int32
	reg := ggcrregistry.New()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			manifestGets.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	upHost := strings.TrimPrefix(up.URL, "http://")
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimages.AlpineImage(td, testimages.AlpineVersion, testimages.HostArch())
	if err != nil {
		t.Fatal(err)
	}
	upRef, _ := name.ParseReference(upHost+"/library/alpine:3.20", name.Insecure)
	if err := remote.Write(upRef, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	pull, err := NewPullThrough(up.URL, store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pulls atomic.Int32
	srv := httptest.NewServer(New(store, Options{PullThrough: pull, OnPull: func(string, string, error) { pulls.Add(1) }}))
	t.Cleanup(srv.Close)

	// Concurrent first requests share one pull.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Head(srv.URL + "/v2/library/alpine/manifests/3.20")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Docker-Content-Digest") != want.String() {
				t.Errorf("HEAD manifest = %d %s, want 200 %s", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"), want)
			}
		}()
	}
	wg.Wait()
	if n := pulls.Load(); n != 1 {
		t.Errorf("%d pulls for one manifest, want 1", n)
	}
	if _, err := store.Resolve(upHost + "/library/alpine:3.20"); err != nil {
		t.Errorf("store after pull-through: %v", err)
	}
	before := manifestGets.Load()
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/library/alpine:3.20", name.Insecure)
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("remote.Image through the mirror = %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("digest through the mirror = %s, want %s", d, want)
	}
	if n := manifestGets.Load() - before; n != 0 {
		t.Errorf("a cached manifest went upstream %d times", n)
	}

	resp, err := http.Get(srv.URL + "/v2/library/alpine/manifests/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing upstream tag = %d, want 404", resp.StatusCode)
	}
}

func TestParseUpstream(t *testing.T) {
	tests := []struct {
		in       string
		host     string
		insecure bool
		wantErr  bool
	}{
		{"docker.io", "docker.io", false, false},
		{"https://registry-1.docker.io", "docker.io", false, false},
		{"http://127.0.0.1:5001", "127.0.0.1:5001", true, false},
		{"registry.local:5000", "registry.local:5000", false, false},
		{"localhost:5000", "localhost:5000", false, false},
		{"ftp://x.example", "", false, true},
		{"https://x.example/path", "", false, true},
		{"myregistry", "", false, true},
		{"", "", false, true},
	}
	for _, tt := range tests {
		host, insecure, err := parseUpstream(tt.in)
		if (err != nil) != tt.wantErr || host != tt.host || insecure != tt.insecure {
			t.Errorf("parseUpstream(%q) = %q, %v, %v; want %q, %v, error %v", tt.in, host, insecure, err, tt.host, tt.insecure, tt.wantErr)
		}
	}
}

// TestPullThroughLimit: misses of many names start at most maxPullsThrough pulls at once; the
// others wait their turn, and a client that gives up while waiting starts none.
func TestPullThroughLimit(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	var running, most, calls atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, 64)
	pull := func(ctx context.Context, name, ref string) error {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		return registry.ErrNotFound
	}
	srv := httptest.NewServer(New(store, Options{PullThrough: pull}))
	t.Cleanup(srv.Close)

	const clients = 3 * maxPullsThrough
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(fmt.Sprintf("%s/v2/flood/n%d/manifests/latest", srv.URL, i))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("miss of n%d = %d, want 404", i, resp.StatusCode)
			}
		}()
	}
	for range maxPullsThrough {
		<-entered
	}
	time.Sleep(100 * time.Millisecond) // room for any pull beyond the limit to start
	if n := running.Load(); n != maxPullsThrough {
		t.Errorf("%d pulls running at once, want %d", n, maxPullsThrough)
	}
	close(release)
	wg.Wait()
	if m := most.Load(); m > maxPullsThrough {
		t.Errorf("up to %d pulls ran at once, want at most %d", m, maxPullsThrough)
	}
	if n := calls.Load(); n != clients {
		t.Errorf("%d pulls for %d names, want one each", n, clients)
	}
}

// TestPullThroughWaiterLeaves: a client asking for a manifest whose pull another request
// started, and leaving before it ends, gets its handler back at once rather than when the
// pull ends (it held a goroutine and a connection slot for as long as upstream took).
func TestPullThroughWaiterLeaves(t *testing.T) {
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	pull := func(ctx context.Context, name, ref string) error {
		close(entered)
		<-release
		return registry.ErrNotFound
	}
	h := New(store, Options{PullThrough: pull})
	first := make(chan struct{})
	go func() {
		defer close(first)
		serveRaw(h, "GET", "/v2/slow/manifests/1", nil)
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		req := httptest.NewRequest("GET", "/v2/slow/manifests/1", nil).WithContext(ctx)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		done <- rec.Code
	}()
	time.Sleep(50 * time.Millisecond) // the second request is waiting for the first's pull
	cancel()
	select {
	case <-done:
		close(release)
	case <-time.After(5 * time.Second):
		t.Error("a request whose client left still waits for another request's pull")
		close(release)
		<-done
	}
	<-first
}

// TestPullThroughRepairsManifest: a manifest damaged in the store (same size, other bytes) is
// pulled again from upstream and served, by tag and by digest, where it was answered 404 for
// good; the repaired blob file is the manifest's bytes.
func TestPullThroughRepairsManifest(t *testing.T) {
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	up := hostileUpstream(t, img, nil)
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	pull, err := NewPullThrough(up, store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pulls atomic.Int32
	srv := httptest.NewServer(New(store, Options{PullThrough: pull, OnPull: func(_, _ string, err error) {
		if err != nil {
			t.Errorf("pull-through: %v", err)
		}
		pulls.Add(1)
	}}))
	t.Cleanup(srv.Close)
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	rawWant, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	get := func(ref string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/v2/library/x/manifests/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, rawWant) {
			t.Fatalf("GET manifest %s = %d %.200s, want 200 and the manifest", ref, resp.StatusCode, body)
		}
	}
	get("1")
	for i, ref := range []string{"1", want.String()} {
		flipByte(t, store.BlobPath(want), 10)
		get(ref)
		if n := pulls.Load(); n != int32(i+2) {
			t.Errorf("after damaging the manifest and GET %s: %d pulls in all, want %d", ref, n, i+2)
		}
		if b, err := os.ReadFile(store.BlobPath(want)); err != nil || !bytes.Equal(b, rawWant) {
			t.Errorf("the manifest blob after GET %s: %v, %d bytes; want the manifest again", ref, err, len(b))
		}
	}
	// Sound again: served from the store, with no pull.
	get("1")
	if n := pulls.Load(); n != 3 {
		t.Errorf("%d pulls in all, want 3", n)
	}
}

// TestPullThroughIndexByDigest: a multi-platform image asked for by its index digest (a digest
// pinned in a Dockerfile) is pulled whole and served as that index, then each platform's
// manifest by digest, with no pull after the first. Only the host's platform was stored before,
// so the digest asked for was a 404, pulled again on every request.
func TestPullThroughIndexByDigest(t *testing.T) {
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := testimages.AlpineIndex(td, testimages.AlpineVersion)
	if err != nil {
		t.Fatal(err)
	}
	reg := ggcrregistry.New()
	up := httptest.NewServer(reg)
	t.Cleanup(up.Close)
	upRef, _ := name.ParseReference(strings.TrimPrefix(up.URL, "http://")+"/library/x:1", name.Insecure)
	if err := remote.WriteIndex(upRef, idx); err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	pull, err := NewPullThrough(up.URL, store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pulls atomic.Int32
	srv := httptest.NewServer(New(store, Options{PullThrough: pull, OnPull: func(_, _ string, err error) {
		if err != nil {
			t.Errorf("pull-through: %v", err)
		}
		pulls.Add(1)
	}}))
	t.Cleanup(srv.Close)
	paths := []string{"/v2/library/x/manifests/" + want.String(), "/v2/library/x/manifests/" + want.String()}
	for _, m := range im.Manifests {
		paths = append(paths, "/v2/library/x/manifests/"+m.Digest.String())
	}
	for _, p := range paths {
		resp, err := http.Head(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != p[strings.LastIndex(p, "/")+1:] {
			t.Errorf("HEAD %s = %d %s, want 200 and that digest", p, resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
		}
	}
	if n := pulls.Load(); n != 1 {
		t.Errorf("%d pulls, want 1", n)
	}
	// A client reads the whole image through the mirror, by the index digest.
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/library/x@"+want.String(), name.Insecure)
	got, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("remote.Index through the mirror = %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("index through the mirror = %s, want %s", d, want)
	}
}

// TestParseUpstreamCredentials: an upstream given with user:password@ is refused, its
// password not printed (registry.RedactMirror): it was taken with the credentials dropped
// unsaid (pulls went upstream anonymous), and one that did not parse had its password printed
// twice, in strata's words and net/url's.
func TestParseUpstreamCredentials(t *testing.T) {
	for _, in := range []string{"http://u:s3cret@127.0.0.1:5001", "https://u:s3cret@x.example", "http://u:s3cret@h:port", "u:s3cret@h", "https://user@x.example"} {
		host, _, err := parseUpstream(in)
		if err == nil {
			t.Errorf("parseUpstream(%q) = %q, want an error", in, host)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("parseUpstream(%q) = %q, want one line without the password", in, err)
		}
	}
}
