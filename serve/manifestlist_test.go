package serve

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// dockerList stores a Docker manifest list of random schema 2 images, one per platform, as
// docker.io/library/list:tag, and returns the list's digest and each image's by platform.
func dockerList(t *testing.T, store *cache.Store, tag string, platforms ...string) (v1.Hash, map[string]v1.Hash) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	digests := map[string]v1.Hash{}
	for _, p := range platforms {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		os, arch, _ := strings.Cut(p, "/")
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = os, arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests[p] = d
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.DockerManifestSchema2,
			Platform:  &v1.Platform{OS: os, Architecture: arch},
		}})
	}
	if _, err := store.WriteIndex(context.Background(), "docker.io/library/list:"+tag, idx, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d, digests
}

// TestServeManifestListOldClient: a client whose Accept header lists manifest types but not
// Docker manifest lists gets, for a tag, the list's linux/amd64 image, as docker's registry
// and Docker Hub answer it (a script asking for a schema 2 manifest to read its config got the
// list); by digest it still gets the list, and a list with no linux/amd64 image is
// MANIFEST_UNKNOWN.
func TestServeManifestListOldClient(t *testing.T) {
	f := newFixture(t, Options{})
	list, images := dockerList(t, f.store, "1", "linux/arm64", "linux/amd64")
	dockerList(t, f.store, "arm", "linux/arm64")
	const (
		schema2 = string(types.DockerManifestSchema2)
		mlist   = string(types.DockerManifestList)
		oci     = string(types.OCIManifestSchema1)
	)
	for _, tt := range []struct {
		path, accept string
		status       int
		digest       string
		ctype        string
		code         string
	}{
		{"/v2/library/list/manifests/1", schema2, 200, images["linux/amd64"].String(), schema2, ""},
		{"/v2/library/list/manifests/1", schema2 + ";q=0.9, " + oci, 200, images["linux/amd64"].String(), schema2, ""},
		{"/v2/library/list/manifests/1", mlist + ", " + schema2, 200, list.String(), mlist, ""},
		{"/v2/library/list/manifests/1", "", 200, list.String(), mlist, ""},
		{"/v2/library/list/manifests/1", "*/*", 200, list.String(), mlist, ""},
		{"/v2/library/list/manifests/" + list.String(), schema2, 200, list.String(), mlist, ""},
		{"/v2/library/list/manifests/1", oci, 400, "", "", codeManifestInvalid},
		{"/v2/library/list/manifests/arm", schema2, 404, "", "", codeManifestUnknown},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			hdr := map[string]string{}
			if tt.accept != "" {
				hdr["Accept"] = tt.accept
			}
			resp, body := f.do(t, method, tt.path, hdr)
			what := method + " " + tt.path + " Accept: " + tt.accept
			if resp.StatusCode != tt.status {
				t.Errorf("%s = %d %s, want %d", what, resp.StatusCode, body, tt.status)
				continue
			}
			if tt.code != "" {
				if method == "GET" && !strings.Contains(string(body), `"code":"`+tt.code+`"`) {
					t.Errorf("%s = %s, want code %s", what, body, tt.code)
				}
				continue
			}
			if got := resp.Header.Get("Docker-Content-Digest"); got != tt.digest {
				t.Errorf("%s: Docker-Content-Digest %s, want %s", what, got, tt.digest)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("%s: Content-Type %s, want %s", what, got, tt.ctype)
			}
			if method == "GET" {
				if got, _, _ := v1.SHA256(strings.NewReader(string(body))); got.String() != tt.digest {
					t.Errorf("%s: body hashes to %s, want %s", what, got, tt.digest)
				}
			}
		}
	}
}
