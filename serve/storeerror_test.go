package serve

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestStoreErrorsStayOnTheServer: when the store cannot be read (its index.json made
// unreadable, its blobs gone), clients get an error that says so without the store's paths,
// which are the server's business (a serve on a non-loopback address answers anyone), and
// OnStoreError gets the reason.
func TestStoreErrorsStayOnTheServer(t *testing.T) {
	store, manifest, layer := hostileStore(t)
	var mu sync.Mutex
	var told []string
	srv := httptest.NewServer(New(store, Options{OnStoreError: func(err error) {
		mu.Lock()
		told = append(told, err.Error())
		mu.Unlock()
	}}))
	t.Cleanup(srv.Close)
	// A blob file replaced by a directory fails to open or verify; then index.json too.
	blob := store.BlobPath(layer)
	if err := os.Remove(blob); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(blob, 0o755); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	paths := []string{"/v2/library/img/blobs/" + layer.String()}
	index := filepath.Join(store.Dir(), "index.json")
	if err := os.Remove(index); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(index, 0o755); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, "/v2/_catalog", "/v2/library/img/manifests/1", "/v2/library/img/manifests/"+manifest.String(), "/v2/library/img/tags/list")
	for _, p := range paths {
		code, body := get(p)
		if code < 400 {
			t.Errorf("GET %s = %d with the store unreadable; want an error", p, code)
		}
		if strings.Contains(body, store.Dir()) || strings.Contains(body, filepath.Dir(store.Dir())) {
			t.Errorf("GET %s answered %q: the server's paths reach the client", p, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(told) == 0 || !strings.Contains(strings.Join(told, "\n"), store.Dir()) {
		t.Errorf("OnStoreError was told %q; want the reasons, with the store's paths", told)
	}
}
