package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
)

// TestUnknownKindIgnored: an index entry of a media type strata does not know (an SBOM, a
// signature) is ignored when the platform's image is picked, as the image-spec says it MUST
// be, even listed first with this host's platform; the image listed after it is pulled. It
// was taken for the image and the pull failed ("an artifact, not a container image"). Alone,
// it is no match, and not offered as available.
func TestUnknownKindIgnored(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
		sbomType    = "application/vnd.example.sbom.v1+json"
	)
	sum := func(b string) string {
		h := sha256.Sum256([]byte(b))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	image := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[]}`
	sbom := `{"schemaVersion":2,"mediaType":"` + ociManifest + `","artifactType":"` + sbomType + `","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + emptyConfig + `","size":2},"layers":[]}`
	const amd64 = `"platform":{"os":"linux","architecture":"amd64"}`
	entry := func(mt, body string) string {
		return `{"mediaType":"` + mt + `","digest":"` + sum(body) + `","size":` + strconv.Itoa(len(body)) + `,` + amd64 + `}`
	}
	served := map[string][2]string{
		"both":      {ociIndex, `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + entry(sbomType, sbom) + `,` + entry(ociManifest, image) + `]}`},
		"alone":     {ociIndex, `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + entry(sbomType, sbom) + `]}`},
		sum(image):  {ociManifest, image},
		sum(sbom):   {ociManifest, sbom},
		emptyConfig: {"application/octet-stream", "{}"},
	}
	host := servedObjects(t, served)
	opts := testOptions()
	opts.Platform.OS, opts.Platform.Architecture = "linux", "amd64"
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(context.Background(), mustRef(t, host+"/x/y:both"))
	if err != nil || img.Descriptor.Digest.String() != sum(image) {
		var got string
		if img != nil {
			got = img.Descriptor.Digest.String()
		}
		t.Errorf("Image(an SBOM listed before the image) = %s, %v; want the image %s", got, err, sum(image))
	}
	_, err = p.Image(context.Background(), mustRef(t, host+"/x/y:alone"))
	var perr *PlatformError
	if !errors.As(err, &perr) || len(perr.Available) != 0 {
		t.Errorf("Image(an index of an SBOM only) = %v, want no matching manifest with none available", err)
	}
}
