package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// secret is what a file beside the store holds: no response may ever contain it.
const secret = "strata-serve-test-secret-3f9a1c"

// hostileStore is a store with one small random image tagged docker.io/library/img:1, and a
// secret file next to it and inside its directory, where an escaping path would find them.
func hostileStore(t testing.TB) (*cache.Store, v1.Hash, v1.Hash) {
	t.Helper()
	root := t.TempDir()
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.WriteImage(context.Background(), "docker.io/library/img:1", img, cache.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(root, "secret"), filepath.Join(root, "oci", "secret"), filepath.Join(root, "oci", "blobs", "secret")} {
		if err := os.WriteFile(p, []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return store, res.Manifest.Digest, m.Layers[0].Digest
}

// serveRaw sends a request whose path is given as on the wire (still escaped), the way a
// hostile client sends it, bypassing the client-side cleaning of net/http.
func serveRaw(h http.Handler, method, target string, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Method = method
	if u, err := url.ParseRequestURI(target); err == nil {
		req.URL = u
		req.RequestURI = target
	} else {
		req.URL = &url.URL{Path: target}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestServeHostileRequests sends what a scanner or a broken client sends. Each answer must be
// a client error of the distribution spec (never a 5xx from a panic, never a file outside the
// store), or, for odd but valid requests, the right content.
func TestServeHostileRequests(t *testing.T) {
	store, manifest, layer := hostileStore(t)
	h := New(store, Options{})
	blobPath := "/v2/library/img/blobs/" + layer.String()
	long := strings.Repeat("a/", 2000) + "a"

	tests := []struct {
		name       string
		method     string
		target     string
		hdr        http.Header
		wantStatus int
		wantCode   string
	}{
		{"dot-dot in name", "GET", "/v2/../../etc/manifests/latest", nil, 404, codeNameInvalid},
		{"encoded dot-dot in name", "GET", "/v2/%2e%2e/%2e%2e/secret/manifests/latest", nil, 404, codeNameInvalid},
		{"encoded slash in name", "GET", "/v2/library%2Fimg/manifests/1", nil, 200, ""},
		{"encoded dot-dot as tag", "GET", "/v2/library/img/manifests/%2e%2e%2fsecret", nil, 400, codeTagInvalid},
		{"dot-dot as digest", "GET", "/v2/library/img/blobs/sha256:..%2f..%2fsecret", nil, 400, codeDigestInvalid},
		{"digest with a path", "GET", "/v2/library/img/blobs/sha256:../../../secret", nil, 400, codeDigestInvalid},
		{"sha512 digest", "GET", "/v2/library/img/blobs/sha512:" + strings.Repeat("a", 128), nil, 404, codeBlobUnknown},
		{"sha512 manifest digest", "GET", "/v2/library/img/manifests/sha512:" + strings.Repeat("a", 128), nil, 404, codeManifestUnknown},
		{"sha512 digest, short", "GET", "/v2/library/img/blobs/sha512:" + strings.Repeat("a", 64), nil, 400, codeDigestInvalid},
		{"unknown algorithm", "GET", "/v2/library/img/blobs/md5:" + strings.Repeat("a", 32), nil, 400, codeDigestInvalid},
		{"md5 digest", "GET", "/v2/library/img/manifests/md5:" + strings.Repeat("a", 32), nil, 400, codeDigestInvalid},
		{"upper-case hex", "GET", "/v2/library/img/blobs/sha256:" + strings.ToUpper(layer.Hex), nil, 400, codeDigestInvalid},
		{"short hex", "GET", "/v2/library/img/blobs/sha256:" + layer.Hex[:10], nil, 400, codeDigestInvalid},
		{"no algorithm", "GET", "/v2/library/img/blobs/" + layer.Hex, nil, 400, codeDigestInvalid},
		{"very long name", "GET", "/v2/" + long + "/manifests/latest", nil, 404, codeNameInvalid},
		{"very long tag", "GET", "/v2/library/img/manifests/" + strings.Repeat("t", 200), nil, 400, codeTagInvalid},
		{"nul in name", "GET", "/v2/lib%00rary/img/manifests/1", nil, 404, codeNameInvalid},
		{"range malformed", "GET", blobPath, http.Header{"Range": {"bytes=abc"}}, 416, ""},
		{"range past the end", "GET", blobPath, http.Header{"Range": {"bytes=99999999999-"}}, 416, ""},
		{"range huge numbers", "GET", blobPath, http.Header{"Range": {"bytes=0-999999999999999999999999"}}, 416, ""},
		{"range backwards", "GET", blobPath, http.Header{"Range": {"bytes=5-1"}}, 416, ""},
		{"ranges overlapping many times", "GET", blobPath, http.Header{"Range": {"bytes=" + strings.Repeat("0-,", 500) + "0-"}}, 200, ""},
		{"range on head", "HEAD", blobPath, http.Header{"Range": {"bytes=0-9"}}, 206, ""},
		{"tags n huge", "GET", "/v2/library/img/tags/list?n=99999999999999999999999", nil, 400, codePaginationInv},
		{"tags n max int", "GET", "/v2/library/img/tags/list?n=9223372036854775807", nil, 200, ""},
		{"tags n zero", "GET", "/v2/library/img/tags/list?n=0", nil, 200, ""},
		{"tags n not a number", "GET", "/v2/library/img/tags/list?n=ten", nil, 400, codePaginationInv},
		{"tags last garbage", "GET", "/v2/library/img/tags/list?last=%ff%fe%00", nil, 200, ""},
		{"catalog n negative", "GET", "/v2/_catalog?n=-1", nil, 400, codePaginationInv},
		{"catalog last past all", "GET", "/v2/_catalog?last=zzzz", nil, 200, ""},
		{"bad query escape", "GET", "/v2/_catalog?n=%zz", nil, 200, ""},
		{"manifest by digest of a layer", "GET", "/v2/library/img/manifests/" + layer.String(), nil, 404, codeManifestUnknown},
		{"manifest by digest", "HEAD", "/v2/library/img/manifests/" + manifest.String(), nil, 200, ""},
		{"options", "OPTIONS", "/v2/", nil, 405, codeUnsupported},
		{"outside v2", "GET", "/secret", nil, 404, codeUnsupported},
		{"v2 prefix only", "GET", "/v2secret", nil, 404, codeUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serveRaw(h, tt.method, tt.target, tt.hdr)
			body := rec.Body.Bytes()
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %.80s = %d %.200s, want %d", tt.method, tt.target, rec.Code, body, tt.wantStatus)
			}
			if bytes.Contains(body, []byte(secret)) {
				t.Fatalf("%s %.80s served the secret file beside the store", tt.method, tt.target)
			}
			if tt.wantCode != "" {
				var e struct {
					Errors []apiError `json:"errors"`
				}
				if tt.method != http.MethodHead && (json.Unmarshal(body, &e) != nil || len(e.Errors) != 1 || e.Errors[0].Code != tt.wantCode) {
					t.Errorf("%s %.80s body = %.200s, want error code %s", tt.method, tt.target, body, tt.wantCode)
				}
			}
		})
	}
}

// TestServeDamagedBlob: a blob file damaged on disk (here truncated) is not served as if it
// were the blob; clients would store bytes that fail their check, or resume at a wrong offset.
func TestServeDamagedBlob(t *testing.T) {
	store, _, layer := hostileStore(t)
	if err := os.Truncate(store.BlobPath(layer), 100); err != nil {
		t.Fatal(err)
	}
	rec := serveRaw(New(store, Options{}), "GET", "/v2/library/img/blobs/"+layer.String(), nil)
	if rec.Code < 500 {
		t.Errorf("GET of a truncated blob = %d with %d bytes, want a server error", rec.Code, rec.Body.Len())
	}
}

// FuzzServeHTTP sends arbitrary methods, paths, queries and Range headers: the handler must
// neither panic nor serve a byte from outside the store, and its errors are the spec's 4xx
// (a 5xx only for the store itself failing, which it does not here). `go test` runs the
// seeds; `go test -fuzz FuzzServeHTTP ./serve` explores.
func FuzzServeHTTP(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "/v2/library/img/manifests/1", ""},
		{"HEAD", "/v2/img/blobs/sha256:" + strings.Repeat("0", 64), "bytes=0-1,3-4"},
		{"GET", "/v2/../secret", ""},
		{"GET", "/v2/%2e%2e/blobs/sha256:%2e%2e", "bytes=-1"},
		{"GET", "/v2/_catalog?n=1&last=%00", ""},
		{"GET", "/v2/library/img/tags/list?n=-5", "bytes=5-1"},
		{"PUT", "/v2/img/blobs/uploads/", ""},
		{"GET", "/v2//manifests/", ""},
		{"GET", "/v2/a/manifests/sha256:", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	store, _, _ := hostileStore(f)
	h := New(store, Options{})
	f.Fuzz(func(t *testing.T, method, target, rng string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			method = "GET"
		}
		rec := serveRaw(h, method, target, http.Header{"Range": {rng}})
		if rec.Code >= 500 {
			t.Fatalf("%q %q Range %q = %d %.200s", method, target, rng, rec.Code, rec.Body.Bytes())
		}
		if bytes.Contains(rec.Body.Bytes(), []byte(secret)) {
			t.Fatalf("%q %q served the secret file beside the store", method, target)
		}
	})
}
