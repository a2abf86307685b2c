package registry

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestArtifactRefused: a manifest whose config or a layer has a media type no container image
// has (a Helm chart, a cosign signature pushed as an image manifest) is refused when it is
// resolved for a platform, as docker refuses it ("unsupported media type …"), naming the type
// and the reference, before any of it is fetched. strata fetched the chart and failed in the
// store's words ("manifest … has 1 layers but its config 0 diff ids"), and with --no-unpack
// stored it as an image. Images with the media types images have, old ones included, resolve.
func TestArtifactRefused(t *testing.T) {
	const ociManifest = "application/vnd.oci.image.manifest.v1+json"
	layer := "not a tarball"
	manifest := func(configType, config, layerType string) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"%s","size":%d},"layers":[{"mediaType":"%s","digest":"%s","size":%d}]}`,
			ociManifest, configType, sha256Of(config), len(config), layerType, sha256Of(layer), len(layer))
	}
	imageConfig := `{"architecture":"` + runtime.GOARCH + `","os":"linux","rootfs":{"type":"layers","diff_ids":["` + sha256Of(layer) + `"]}}`
	chart := `{"name":"chart","version":"1.0.0"}`
	objs := map[string][2]string{sha256Of(imageConfig): {"application/octet-stream", imageConfig}, sha256Of(chart): {"application/octet-stream", chart}}
	tests := []struct {
		tag, body, want string
	}{
		{"helm", manifest("application/vnd.cncf.helm.config.v1+json", chart, "application/vnd.cncf.helm.chart.content.v1.tar+gzip"),
			"unsupported media type application/vnd.cncf.helm.config.v1+json (its config)"},
		{"signature", manifest("application/vnd.oci.image.config.v1+json", imageConfig, "application/vnd.dev.cosign.simplesigning.v1+json"),
			"unsupported media type application/vnd.dev.cosign.simplesigning.v1+json (layer " + sha256Of(layer)[:19] + ")"},
		{"escapes", manifest(`application/x\u001b[2J`, chart, "application/vnd.oci.image.layer.v1.tar"),
			"unsupported media type application/x [2J (its config)"},
		{"oci", manifest("application/vnd.oci.image.config.v1+json", imageConfig, "application/vnd.oci.image.layer.v1.tar+zstd"), ""},
		{"docker", manifest("application/vnd.docker.container.image.v1+json", imageConfig, "application/vnd.docker.image.rootfs.diff.tar.gzip"), ""},
		{"old", manifest("application/octet-stream", imageConfig, "application/json"), ""},
		{"none", manifest("", imageConfig, ""), ""},
	}
	for _, tt := range tests {
		objs[tt.tag] = [2]string{ociManifest, tt.body}
	}
	host := servedObjects(t, objs)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		ref := mustRef(t, host+"/a/b:"+tt.tag)
		_, err := p.Image(context.Background(), ref)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: Image = %v, want it resolved", tt.tag, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnsupportedMediaType) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), ref.String()) ||
			strings.ContainsAny(err.Error(), "\x1b\n") {
			t.Errorf("%s: Image = %v, want ErrUnsupportedMediaType saying %q and naming %s", tt.tag, err, tt.want, ref)
		}
	}
}
