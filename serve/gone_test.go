package serve

import (
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestServeTagMovedMidPull: a client that got a manifest by tag goes on to fetch what it
// names by digest; when the tag moves meanwhile (a `strata pull` of a newer image, a `tag`)
// while the old image's content stays on disk, the rest of its pull is served, as docker's
// registry serves a repository's content until it is collected, instead of 404s for blobs the
// store holds. The tag names the new image, and past the grace period the old content is a
// plain 404 under the name.
func TestServeTagMovedMidPull(t *testing.T) {
	f := newFixture(t, Options{})
	// The client's first step: the manifest by tag, and what it names.
	resp, _ := f.do(t, "GET", "/v2/library/alpine/manifests/latest", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("manifest by tag = %d", resp.StatusCode)
	}
	img, err := f.store.Image(f.alpine.Descriptor.Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	cfg, _ := img.ConfigName()
	// The tag moves to busybox; another name keeps alpine's content in the store.
	if err := f.store.Tag("docker.io/library/keep:1", f.alpine.Descriptor); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Tag("docker.io/library/alpine:latest", f.busybox.Descriptor); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/v2/library/alpine/manifests/" + f.alpine.Descriptor.Digest.String(),
		"/v2/library/alpine/blobs/" + layer.String(),
		"/v2/library/alpine/blobs/" + cfg.String(),
	} {
		for _, m := range []string{"GET", "HEAD"} {
			resp, body := f.do(t, m, p, map[string]string{"Accept": string(types.OCIManifestSchema1) + "," + string(types.DockerManifestSchema2) + "," + string(types.OCIImageIndex)})
			if resp.StatusCode != 200 {
				t.Errorf("%s %s after the tag moved, its content still in the store = %d %s, want 200", m, p, resp.StatusCode, body)
			}
		}
	}
	// The tag itself names the new image.
	resp, _ = f.do(t, "HEAD", "/v2/library/alpine/manifests/latest", nil)
	if got := resp.Header.Get("Docker-Content-Digest"); got != f.busybox.Descriptor.Digest.String() {
		t.Errorf("tag after it moved = %s, want busybox's %s", got, f.busybox.Descriptor.Digest)
	}
	// Past the grace period, the old content is no longer served under the name.
	expireGone(f.srv.Config.Handler.(*Server))
	if resp, _ := f.do(t, "GET", "/v2/library/alpine/blobs/"+layer.String(), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("blob of a ref gone longer than the grace period = %d, want 404", resp.StatusCode)
	}
}
