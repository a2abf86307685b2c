package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// hostileUpstream serves img as library/x:1 from go-containerregistry's in-memory registry,
// except for the requests tamper answers itself (it returns true when it did).
func hostileUpstream(t *testing.T, img v1.Image, tamper func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	reg := ggcrregistry.New()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tamper == nil || !tamper(w, r) {
			reg.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(up.Close)
	ref, err := name.ParseReference(strings.TrimPrefix(up.URL, "http://")+"/library/x:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return up.URL
}

// mirrorOf serves an empty store pulling through from upstream.
func mirrorOf(t *testing.T, upstream string) (*cache.Store, *httptest.Server) {
	t.Helper()
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	pull, err := NewPullThrough(upstream, store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(store, Options{PullThrough: pull}))
	t.Cleanup(srv.Close)
	return store, srv
}

// storeBytes sums the sizes of the files under the store's directory.
func storeBytes(t *testing.T, store *cache.Store) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(store.Dir(), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// endless writes head then zeros to w until the client stops reading or limit bytes are out,
// counting in sent what went out.
func endless(w http.ResponseWriter, head []byte, limit int64, sent *atomic.Int64) {
	n, _ := w.Write(head)
	sent.Add(int64(n))
	buf := make([]byte, 1<<20)
	for sent.Load() < limit {
		n, err := w.Write(buf)
		sent.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// TestPullThroughHostileUpstream: what a hostile upstream sends through the pull-through is
// bounded by registry's limits and the descriptors: a manifest without end, a layer longer
// than its descriptor and a config claiming gigabytes all end the pull with a 502, with
// nothing of them left in the store but what the descriptor allows.
func TestPullThroughHostileUpstream(t *testing.T) {
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	const flood = 1 << 30 // what a tamper offers to send: far above any limit
	tests := []struct {
		name   string
		tamper func(sent *atomic.Int64) func(w http.ResponseWriter, r *http.Request) bool
		// maxSent bounds what the upstream may get out before strata stops reading: the
		// limit, plus what socket buffers take.
		maxSent int64
	}{
		{"manifest without end", func(sent *atomic.Int64) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/manifests/") {
					return false
				}
				w.Header().Set("Content-Type", string(m.MediaType))
				endless(w, []byte(`{"schemaVersion":2,"x":"`), flood, sent)
				return true
			}
		}, registry.MaxManifestSize + 32<<20},
		{"manifest with a Content-Length of gigabytes", func(sent *atomic.Int64) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/manifests/") {
					return false
				}
				w.Header().Set("Content-Type", string(m.MediaType))
				w.Header().Set("Content-Length", "1073741824")
				endless(w, []byte(`{"schemaVersion":2,"x":"`), flood, sent)
				return true
			}
		}, 32 << 20},
		{"layer longer than its descriptor", func(sent *atomic.Int64) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+m.Layers[0].Digest.String()) {
					return false
				}
				l, err := img.LayerByDigest(m.Layers[0].Digest)
				if err != nil {
					return false
				}
				rc, err := l.Compressed()
				if err != nil {
					return false
				}
				real, _ := io.ReadAll(rc)
				rc.Close()
				endless(w, real, flood, sent)
				return true
			}
		}, 32 << 20},
		{"config of gigabytes", func(sent *atomic.Int64) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+m.Config.Digest.String()) {
					endless(w, nil, flood, sent)
					return true
				}
				if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/manifests/") {
					return false
				}
				var doc map[string]any
				if err := json.Unmarshal(rawManifest, &doc); err != nil {
					return false
				}
				doc["config"].(map[string]any)["size"] = int64(1) << 40
				b, _ := json.Marshal(doc)
				w.Header().Set("Content-Type", string(m.MediaType))
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				w.Write(b)
				return true
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent atomic.Int64
			up := hostileUpstream(t, img, tt.tamper(&sent))
			store, srv := mirrorOf(t, up)
			start := time.Now()
			resp, err := http.Get(srv.URL + "/v2/library/x/manifests/1")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway || !bytes.Contains(body, []byte(codeUnknown)) {
				t.Errorf("GET through a hostile upstream = %d %s, want 502 with the spec's error body", resp.StatusCode, body)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("the pull took %s", d)
			}
			t.Logf("the upstream got %d bytes out", sent.Load())
			if n := sent.Load(); n > tt.maxSent {
				t.Errorf("the upstream got %d MiB out before strata stopped reading, want at most %d MiB", n>>20, tt.maxSent>>20)
			}
			var layerBytes int64
			for _, l := range m.Layers {
				layerBytes += l.Size
			}
			if n := storeBytes(t, store); n > layerBytes+int64(len(rawManifest))+64<<10 {
				t.Errorf("the store holds %d bytes after the failed pull, want no more than the descriptors allow (%d)", n, layerBytes+int64(len(rawManifest)))
			}
			if _, err := store.Resolve(strings.TrimPrefix(up, "http://") + "/library/x:1"); err == nil {
				t.Errorf("the store tags the image of a failed pull")
			}
		})
	}
}

// TestPullThroughFetchesBounded: one pull of an image of many layers fetches at most
// maxPullLayers of them from upstream at once.
func TestPullThroughFetchesBounded(t *testing.T) {
	img, err := random.Image(1024, 3*maxPullLayers)
	if err != nil {
		t.Fatal(err)
	}
	var running, most, fetched atomic.Int32
	up := hostileUpstream(t, img, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			return false
		}
		fetched.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		return false // the registry answers, once this fetch has counted
	})
	_, srv := mirrorOf(t, up)
	resp, err := http.Get(srv.URL + "/v2/library/x/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET through the mirror = %d, want 200", resp.StatusCode)
	}
	if fetched.Load() < 3*maxPullLayers {
		t.Fatalf("%d blobs fetched, want every layer", fetched.Load())
	}
	if m := most.Load(); m > maxPullLayers {
		t.Errorf("up to %d upstream fetches at once for one pull, want at most %d", m, maxPullLayers)
	}
}
