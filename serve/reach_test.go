package serve

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// manyTags is a store with n small random images tagged docker.io/library/img:0 … n-1. It
// returns each image's manifest and first layer digests.
func manyTags(t *testing.T, n int) (store *cache.Store, manifests, layers []v1.Hash) {
	t.Helper()
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.WriteImage(context.Background(), fmt.Sprintf("docker.io/library/img:%d", i), img, cache.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, res.Manifest.Digest)
		layers = append(layers, m.Layers[0].Digest)
	}
	return store, manifests, layers
}

// ageIndex makes index.json look written an hour ago, so that its view is kept (see
// racyWindow).
func ageIndex(t *testing.T, store *cache.Store) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(store.Dir(), indexFile), old, old); err != nil {
		t.Fatal(err)
	}
}

// TestServeBlobReachBounded: whether a blob (or a manifest by digest) is served under a name
// is found once per image, not by reading every manifest of the name on every request: a pull
// of an image from a name with many tags would otherwise read all their manifests once per
// blob.
func TestServeBlobReachBounded(t *testing.T) {
	const tags = 30
	store, manifests, layers := manyTags(t, tags)
	ageIndex(t, store)
	h := New(store, Options{})
	last := "/v2/library/img/blobs/" + layers[tags-1].String()
	for i := range 10 {
		for _, m := range []string{"HEAD", "GET"} {
			if rec := serveRaw(h, m, last, nil); rec.Code != http.StatusOK {
				t.Fatalf("%s #%d of the last image's layer = %d, want 200", m, i, rec.Code)
			}
		}
	}
	if rec := serveRaw(h, "HEAD", "/v2/library/img/manifests/"+manifests[0].String(), nil); rec.Code != http.StatusOK {
		t.Fatalf("HEAD manifest by digest = %d, want 200", rec.Code)
	}
	if n := h.reach.reads.Load(); n > tags {
		t.Errorf("20 requests of one blob read %d manifests, want at most one each of the %d images", n, tags)
	}
	before := h.reach.reads.Load()
	for range 10 {
		serveRaw(h, "HEAD", "/v2/library/img/blobs/"+layers[0].String(), nil)
		serveRaw(h, "HEAD", "/v2/library/img/manifests/"+manifests[tags-1].String(), nil)
	}
	if n := h.reach.reads.Load() - before; n != 0 {
		t.Errorf("requests after every image was walked read %d manifests, want 0", n)
	}

	// A change of index.json is seen at once: a new image's blob is served, an untagged one's
	// no longer, once the grace a pull under way has (reach.go) is over.
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), "docker.io/library/img:new", img, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := store.Untag("docker.io/library/img:0"); err != nil {
		t.Fatal(err)
	}
	ml, _ := img.Manifest()
	if rec := serveRaw(h, "HEAD", "/v2/library/img/blobs/"+ml.Layers[0].Digest.String(), nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD of a blob of an image tagged since = %d, want 200", rec.Code)
	}
	if rec := serveRaw(h, "HEAD", "/v2/library/img/blobs/"+layers[0].String(), nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD of a blob of an image just untagged = %d, want 200 (a pull under way)", rec.Code)
	}
	expireGone(h)
	if rec := serveRaw(h, "HEAD", "/v2/library/img/blobs/"+layers[0].String(), nil); rec.Code != http.StatusNotFound {
		t.Errorf("HEAD of a blob of an image untagged since = %d, want 404", rec.Code)
	}
	ageIndex(t, store)
	if rec := serveRaw(h, "HEAD", "/v2/library/img/blobs/"+layers[0].String(), nil); rec.Code != http.StatusNotFound {
		t.Errorf("HEAD of a blob of an image untagged since, index aged = %d, want 404", rec.Code)
	}
}

// TestServeReachIncompleteNotKept: an image whose manifest is missing from the store reaches
// nothing, but that is not remembered: once the manifest is stored again (index.json
// unchanged, as a pull of the same tag leaves it), its blobs are served.
func TestServeReachIncompleteNotKept(t *testing.T) {
	store, manifests, layers := manyTags(t, 1)
	ageIndex(t, store)
	h := New(store, Options{})
	path := "/v2/library/img/blobs/" + layers[0].String()
	raw, err := store.ReadBlob(manifests[0], 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(store.BlobPath(manifests[0])); err != nil {
		t.Fatal(err)
	}
	if rec := serveRaw(h, "HEAD", path, nil); rec.Code != http.StatusNotFound {
		t.Fatalf("HEAD of a blob of an image whose manifest is gone = %d, want 404", rec.Code)
	}
	if err := os.WriteFile(store.BlobPath(manifests[0]), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if rec := serveRaw(h, "HEAD", path, nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD of the blob once its manifest is back = %d, want 200", rec.Code)
	}
}

// expireGone ends the grace of every ref that left h's store.
func expireGone(h *Server) {
	h.reach.mu.Lock()
	defer h.reach.mu.Unlock()
	for i := range h.reach.gone {
		h.reach.gone[i].at = time.Now().Add(-goneGrace)
	}
}
