package serve

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-run/strata/archive"
	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
)

// fixture is a store with busybox (from the testdata layout), alpine, and an image of another
// registry under the same path as alpine, served over httptest.
type fixture struct {
	store   *cache.Store
	srv     *httptest.Server
	busybox cache.Ref
	alpine  cache.Ref
	other   cache.Ref
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.LoadDir(ctx, store, filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci"), archive.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store}
	if f.busybox, err = store.FindImage("docker.io/library/busybox:1.38.0-musl"); err != nil {
		t.Fatal(err)
	}
	put := func(ref, version string) cache.Ref {
		img, err := testimages.AlpineImage(td, version, testimages.HostArch())
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.WriteImage(ctx, ref, img, cache.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cache.Ref{Name: ref, Descriptor: res.Manifest}
	}
	// Written first, so that docker.io winning is not an accident of order.
	f.other = put("127.0.0.1:5000/library/alpine:latest", "3.19.4")
	f.alpine = put("docker.io/library/alpine:latest", testimages.AlpineVersion)
	put("127.0.0.1:5000/library/alpine:old", "3.19.4")
	f.srv = httptest.NewServer(New(store, opts))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (f *fixture) blob(t *testing.T, h v1.Hash) []byte {
	t.Helper()
	b, err := f.store.ReadBlob(h, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServe checks each endpoint's status, headers and body against what the store holds.
func TestServe(t *testing.T) {
	f := newFixture(t, Options{})
	info, err := f.store.Info(f.alpine)
	if err != nil {
		t.Fatal(err)
	}
	layer := info.Layers[0].Digest
	layerBytes := f.blob(t, layer)
	manifest := f.blob(t, f.alpine.Descriptor.Digest)
	bbInfo, err := f.store.Info(f.busybox)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		method     string
		path       string
		hdr        map[string]string
		wantStatus int
		wantBody   []byte            // exact body, when set
		wantHeader map[string]string // exact header values
		wantCode   string            // distribution error code in the body
	}{
		{"base", "GET", "/v2/", nil, 200, []byte("{}"), map[string]string{"Docker-Distribution-API-Version": "registry/2.0"}, ""},
		{"base head", "HEAD", "/v2/", nil, 200, []byte{}, nil, ""},
		{"manifest by tag", "GET", "/v2/library/alpine/manifests/latest", nil, 200, manifest, map[string]string{
			"Content-Type": string(f.alpine.Descriptor.MediaType), "Docker-Content-Digest": f.alpine.Descriptor.Digest.String()}, ""},
		{"manifest by tag head", "HEAD", "/v2/library/alpine/manifests/latest", nil, 200, []byte{}, map[string]string{
			"Docker-Content-Digest": f.alpine.Descriptor.Digest.String()}, ""},
		{"manifest by digest", "GET", "/v2/library/alpine/manifests/" + f.alpine.Descriptor.Digest.String(), nil, 200, manifest, nil, ""},
		{"short name finds library", "GET", "/v2/alpine/manifests/latest", nil, 200, manifest, nil, ""},
		{"name with host", "GET", "/v2/docker.io/library/alpine/manifests/latest", nil, 200, manifest, nil, ""},
		{"other registry only tag", "HEAD", "/v2/library/alpine/manifests/old", nil, 200, []byte{}, nil, ""},
		{"busybox by tag", "HEAD", "/v2/library/busybox/manifests/1.38.0-musl", nil, 200, []byte{}, map[string]string{
			"Docker-Content-Digest": f.busybox.Descriptor.Digest.String(), "Content-Type": "application/vnd.oci.image.manifest.v1+json"}, ""},
		{"blob", "GET", "/v2/library/alpine/blobs/" + layer.String(), nil, 200, layerBytes, map[string]string{
			"Docker-Content-Digest": layer.String(), "Content-Type": "application/octet-stream"}, ""},
		{"blob head", "HEAD", "/v2/library/alpine/blobs/" + layer.String(), nil, 200, []byte{}, nil, ""},
		{"blob range", "GET", "/v2/library/alpine/blobs/" + layer.String(), map[string]string{"Range": "bytes=10-19"}, 206, layerBytes[10:20], nil, ""},
		{"blob open range", "GET", "/v2/library/alpine/blobs/" + layer.String(), map[string]string{"Range": "bytes=100-"}, 206, layerBytes[100:], nil, ""},
		{"config blob", "GET", "/v2/library/alpine/blobs/" + info.ID.String(), nil, 200, f.blob(t, info.ID), nil, ""},
		{"blob of another repo", "GET", "/v2/library/alpine/blobs/" + bbInfo.Layers[0].Digest.String(), nil, 404, nil, nil, codeBlobUnknown},
		{"missing blob", "GET", "/v2/library/alpine/blobs/sha256:" + strings.Repeat("0", 64), nil, 404, nil, nil, codeBlobUnknown},
		{"missing blob head", "HEAD", "/v2/library/alpine/blobs/sha256:" + strings.Repeat("0", 64), nil, 404, []byte{}, nil, ""},
		{"bad digest", "GET", "/v2/library/alpine/blobs/sha256:xyz", nil, 400, nil, nil, codeDigestInvalid},
		{"missing tag", "GET", "/v2/library/alpine/manifests/nope", nil, 404, nil, nil, codeManifestUnknown},
		{"missing manifest digest", "GET", "/v2/library/alpine/manifests/sha256:" + strings.Repeat("1", 64), nil, 404, nil, nil, codeManifestUnknown},
		{"missing repo", "GET", "/v2/nothing/here/manifests/latest", nil, 404, nil, nil, codeNameUnknown},
		{"invalid name", "GET", "/v2/UPPER/manifests/latest", nil, 404, nil, nil, codeNameInvalid},
		{"tags", "GET", "/v2/library/alpine/tags/list", nil, 200, []byte(`{"name":"library/alpine","tags":["latest","old"]}`), nil, ""},
		{"tags page", "GET", "/v2/library/alpine/tags/list?n=1", nil, 200, []byte(`{"name":"library/alpine","tags":["latest"]}`), map[string]string{
			"Link": `</v2/library/alpine/tags/list?last=latest&n=1>; rel="next"`}, ""},
		{"tags next page", "GET", "/v2/library/alpine/tags/list?n=1&last=latest", nil, 200, []byte(`{"name":"library/alpine","tags":["old"]}`), nil, ""},
		{"tags bad n", "GET", "/v2/library/alpine/tags/list?n=-1", nil, 400, nil, nil, codePaginationInv},
		{"tags missing repo", "GET", "/v2/nothing/tags/list", nil, 404, nil, nil, codeNameUnknown},
		{"catalog", "GET", "/v2/_catalog", nil, 200, []byte(`{"repositories":["library/alpine","library/busybox"]}`), nil, ""},
		{"catalog page", "GET", "/v2/_catalog?n=1&last=library/alpine", nil, 200, []byte(`{"repositories":["library/busybox"]}`), nil, ""},
		{"put manifest", "PUT", "/v2/library/alpine/manifests/latest", nil, 405, nil, map[string]string{"Allow": "GET, HEAD"}, codeUnsupported},
		{"delete manifest", "DELETE", "/v2/library/alpine/manifests/latest", nil, 405, nil, nil, codeUnsupported},
		{"start upload", "POST", "/v2/library/alpine/blobs/uploads/", nil, 405, nil, nil, codeUnsupported},
		{"unknown endpoint", "GET", "/v2/library/alpine/other", nil, 404, nil, nil, codeUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, tt.method, tt.path, tt.hdr)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantBody != nil && string(body) != string(tt.wantBody) {
				t.Errorf("%s %s body = %.200q, want %.200q", tt.method, tt.path, body, tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s %s header %s = %q, want %q", tt.method, tt.path, k, got, v)
				}
			}
			if tt.wantCode != "" {
				var e struct {
					Errors []apiError `json:"errors"`
				}
				if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Code != tt.wantCode {
					t.Errorf("%s %s body = %s, want error code %s", tt.method, tt.path, body, tt.wantCode)
				}
			}
		})
	}
}

// TestServePrefersDockerHub: the same path held by two registries is served from docker.io.
func TestServePrefersDockerHub(t *testing.T) {
	f := newFixture(t, Options{})
	resp, _ := f.do(t, "HEAD", "/v2/library/alpine/manifests/latest", nil)
	if got := resp.Header.Get("Docker-Content-Digest"); got != f.alpine.Descriptor.Digest.String() {
		t.Errorf("library/alpine:latest = %s, want docker.io's %s (not %s)", got, f.alpine.Descriptor.Digest, f.other.Descriptor.Digest)
	}
	// The other registry's image is still reachable by its full name.
	resp, _ = f.do(t, "HEAD", "/v2/127.0.0.1/library/alpine/manifests/latest", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a host without its port matched: %d", resp.StatusCode)
	}
}

// TestServeDamagedPreferredManifest: when docker.io's manifest for a tag is damaged on disk,
// the tag is served from the next registry holding the same path, as a missing image would
// be: a broken image does not hide the others (and a pull-through repairing it stores the
// copy under its upstream's host, which must then be found).
func TestServeDamagedPreferredManifest(t *testing.T) {
	f := newFixture(t, Options{})
	flipByte(t, f.store.BlobPath(f.alpine.Descriptor.Digest), 5)
	resp, _ := f.do(t, "HEAD", "/v2/library/alpine/manifests/latest", nil)
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != http.StatusOK || got != f.other.Descriptor.Digest.String() {
		t.Errorf("library/alpine:latest with docker.io's manifest damaged = %d %s, want 200 %s", resp.StatusCode, got, f.other.Descriptor.Digest)
	}
	resp, _ = f.do(t, "HEAD", "/v2/docker.io/library/alpine/manifests/latest", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("docker.io/library/alpine:latest, its manifest damaged = %d, want 404", resp.StatusCode)
	}
}

// TestServeRemotePull pulls every image with go-containerregistry's remote package, as a
// client on another machine would, and compares digests with the store.
func TestServeRemotePull(t *testing.T) {
	f := newFixture(t, Options{})
	host := strings.TrimPrefix(f.srv.URL, "http://")
	for _, tt := range []struct {
		ref  string
		want cache.Ref
	}{
		{host + "/library/alpine:latest", f.alpine},
		{host + "/library/busybox:1.38.0-musl", f.busybox},
		{host + "/library/busybox@" + f.busybox.Descriptor.Digest.String(), f.busybox},
	} {
		t.Run(tt.ref, func(t *testing.T) {
			ref, err := name.ParseReference(tt.ref, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(ref)
			if err != nil {
				t.Fatalf("remote.Image(%s) = %v", tt.ref, err)
			}
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if d != tt.want.Descriptor.Digest {
				t.Errorf("digest = %s, want %s", d, tt.want.Descriptor.Digest)
			}
			want, err := f.store.Info(tt.want)
			if err != nil {
				t.Fatal(err)
			}
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range layers {
				rc, err := l.Compressed() // verifies the digest as it is read
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					t.Fatalf("layer %d: %v", i, err)
				}
				rc.Close()
				if ld, _ := l.Digest(); ld != want.Layers[i].Digest {
					t.Errorf("layer %d = %s, want %s", i, ld, want.Layers[i].Digest)
				}
			}
			if id, _ := img.ConfigName(); id != want.ID {
				t.Errorf("config = %s, want %s", id, want.ID)
			}
		})
	}
}
