package registry

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestManifestWithoutDigests: a manifest that names no config, or a config or layer without a
// digest ("{}" served as a manifest, as a web server answering every path with it does), is
// refused as it is read, in one line naming the image and the registry, pulled for a platform
// or through an index. "{}" parsed as an image of no layers whose config is the zero digest,
// and strata fetched blob ":" from the registry: `GET http://HOST/v2/x/blobs/:: Content-Length
// header 2 does not match expected size 0`.
func TestManifestWithoutDigests(t *testing.T) {
	const ociManifest = "application/vnd.oci.image.manifest.v1+json"
	cfg := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
	noLayerDigest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":3}]}`,
		ociManifest, sha256Of(cfg), len(cfg))
	index := func(child string) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"%s"}}]}`,
			ociManifest, sha256Of(child), len(child), runtime.GOARCH)
	}
	objs := map[string][2]string{
		"empty":                 {"application/json", "{}"},
		"no-config":             {ociManifest, `{"schemaVersion":2,"mediaType":"` + ociManifest + `","layers":[]}`},
		"no-layer-digest":       {ociManifest, noLayerDigest},
		"index":                 {"application/vnd.oci.image.index.v1+json", index(noLayerDigest)},
		sha256Of(noLayerDigest): {ociManifest, noLayerDigest},
		sha256Of(cfg):           {"application/octet-stream", cfg},
	}
	host := servedObjects(t, objs)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for tag, want := range map[string]string{
		"empty":           "it names no config",
		"no-config":       "it names no config",
		"no-layer-digest": "its layer 1 has no digest",
		"index":           "its layer 1 has no digest",
	} {
		ref := mustRef(t, host+"/a/b:"+tag)
		_, err := p.Image(ctx, ref)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ref.String()) || !strings.Contains(err.Error(), "from "+host) {
			t.Errorf("Image(%s) = %v, want an error naming it and %s, saying %q", tag, err, host, want)
		}
	}
	idx, err := p.Index(ctx, mustRef(t, host+"/a/b:index"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Image(m.Manifests[0].Digest); err == nil || !strings.Contains(err.Error(), "its layer 1 has no digest") {
		t.Errorf("Index.Image of a manifest with a layer without digest = %v, want it refused", err)
	}
}
