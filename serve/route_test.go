package serve

import (
	"net/http"
	"strings"
	"testing"
)

// TestServeNamesWithEndpointWords: a repository name may have "manifests", "blobs", "tags" or
// "uploads" as elements of its own, as the spec's grammar and docker's registry allow. The
// endpoint is the element before the last, not the first "/manifests/" of the path: a blob of
// "x/manifests/y" was read as a manifest of "x" with the tag "y/blobs/sha256:…" (400), so
// skopeo could not copy such an image.
func TestServeNamesWithEndpointWords(t *testing.T) {
	store, manifest, layer := hostileStore(t)
	desc, err := store.Resolve("docker.io/library/img:1")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"x/manifests/y", "x/blobs/y", "x/tags/list", "x/blobs/uploads", "manifests/blobs", "blobs/manifests/uploads"}
	for _, n := range names {
		if err := store.Tag("docker.io/"+n+":1", desc); err != nil {
			t.Fatal(err)
		}
	}
	h := New(store, Options{})
	for _, n := range names {
		for _, c := range []struct{ path, digest string }{
			{"/v2/" + n + "/manifests/1", manifest.String()},
			{"/v2/" + n + "/manifests/" + manifest.String(), manifest.String()},
			{"/v2/" + n + "/blobs/" + layer.String(), layer.String()},
			{"/v2/" + n + "/blobs/" + manifest.String(), manifest.String()},
		} {
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				rec := serveRaw(h, m, c.path, nil)
				if rec.Code != http.StatusOK || rec.Header().Get("Docker-Content-Digest") != c.digest {
					t.Errorf("%s %s = %d %.200s (digest %q), want 200 with digest %s", m, c.path, rec.Code, rec.Body.Bytes(), rec.Header().Get("Docker-Content-Digest"), c.digest)
				}
			}
		}
		rec := serveRaw(h, http.MethodGet, "/v2/"+n+"/tags/list", nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET /v2/%s/tags/list = %d %.200s", n, rec.Code, rec.Body.Bytes())
		}
	}
	// The upload endpoints stay refused as such, whatever the name.
	for _, p := range []string{"/v2/library/img/blobs/uploads/", "/v2/library/img/blobs/uploads/some-uuid", "/v2/x/blobs/uploads/blobs/uploads/", "/v2/library/img/blobs/uploads"} {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch} {
			if rec := serveRaw(h, m, p, nil); rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d %.200s, want 405", m, p, rec.Code, rec.Body.Bytes())
			}
		}
	}
	// Paths with too few elements are no endpoint.
	for _, p := range []string{"/v2/manifests/1", "/v2/blobs/" + layer.String(), "/v2//manifests/1", "/v2/x", "/v2/x/y"} {
		if rec := serveRaw(h, http.MethodGet, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d %.200s, want 404", p, rec.Code, rec.Body.Bytes())
		}
	}
}

// TestServeManifestMissMessage: a miss names the manifest as a reference writes it, with "@"
// before a digest ("img@sha256:…"), not "img:sha256:…", which is no reference at all.
func TestServeManifestMissMessage(t *testing.T) {
	store, _, _ := hostileStore(t)
	h := New(store, Options{})
	missing := "sha256:" + strings.Repeat("0", 64)
	for target, want := range map[string]string{
		"/v2/library/img/manifests/" + missing: "library/img@" + missing,
		"/v2/library/img/manifests/nope":       "library/img:nope",
	} {
		rec := serveRaw(h, http.MethodGet, target, nil)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "manifest "+want+" is not") {
			t.Errorf("GET %s = %d %.300s, want a 404 naming %s", target, rec.Code, rec.Body.Bytes(), want)
		}
	}
}
