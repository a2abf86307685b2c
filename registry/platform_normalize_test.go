package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestIndexPlatformNormalized: an index entry that spells the platform in other words than
// linux/amd64 ("x86_64", "Linux"/"AMD64", the variant "v1"; "aarch64" with "v8" for arm64) is
// the image pulled for linux/amd64 (or arm64), as containerd normalizes both sides and docker
// pulls it, and so is one asked for as --platform linux/x86_64. strata refused them: "no
// matching manifest for linux/amd64 … (available: linux/x86_64)".
func TestIndexPlatformNormalized(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	sum := func(b string) string {
		h := sha256.Sum256([]byte(b))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	image := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[]}`
	index := func(platform string) string {
		return `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[{"mediaType":"` + ociManifest +
			`","digest":"` + sum(image) + `","size":` + strconv.Itoa(len(image)) + `,"platform":` + platform + `}]}`
	}
	served := map[string][2]string{
		"x86_64":    {ociIndex, index(`{"os":"linux","architecture":"x86_64"}`)},
		"x86-64":    {ociIndex, index(`{"os":"linux","architecture":"x86-64"}`)},
		"upper":     {ociIndex, index(`{"os":"Linux","architecture":"AMD64"}`)},
		"v1":        {ociIndex, index(`{"os":"linux","architecture":"amd64","variant":"v1"}`)},
		"aarch64":   {ociIndex, index(`{"os":"linux","architecture":"aarch64","variant":"v8"}`)},
		sum(image):  {ociManifest, image},
		emptyConfig: {"application/octet-stream", "{}"},
	}
	host := servedObjects(t, served)
	userX86, err := ParsePlatform("linux/x86_64")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		tag  string
		want v1.Platform
	}{
		{"x86_64", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"x86-64", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"upper", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"v1", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"x86_64", userX86},
		{"upper", userX86},
		{"aarch64", v1.Platform{OS: "linux", Architecture: "arm64"}},
		{"aarch64", v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
	} {
		opts := testOptions()
		opts.Platform = tt.want
		p, err := NewPuller(opts)
		if err != nil {
			t.Fatal(err)
		}
		img, err := p.Image(context.Background(), mustRef(t, host+"/x/y:"+tt.tag))
		if err != nil || img.Descriptor.Digest.String() != sum(image) {
			t.Errorf("Image(%s) for %s = %v; want the image %s", tt.tag, platformString(tt.want), err, sum(image))
		}
	}
	opts := testOptions()
	opts.Platform = v1.Platform{OS: "linux", Architecture: "arm64"}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(context.Background(), mustRef(t, host+"/x/y:x86_64")); err == nil {
		t.Errorf("Image(an x86_64 index) for linux/arm64 succeeded")
	}
}
