package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestEmptyOtherKindFields: a body whose fields of the other kind are empty or null (an
// index with "layers": [] and "config": null, an image manifest with "manifests": []) is not
// CVE-2021-41190's ambiguous manifest, as containerd and strata's load read it: pull refused
// it ("the body has an image manifest's fields"), where load of the same image stored it. One
// whose other-kind fields say something (an index with a layer) is still refused.
func TestEmptyOtherKindFields(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	sum := func(b string) string {
		h := sha256.Sum256([]byte(b))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	config := `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + emptyConfig + `","size":2}`
	layer := `{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + emptyConfig + `","size":2}`
	image := `{"schemaVersion":2,"mediaType":"` + ociManifest + `",` + config + `,"layers":[]}`
	imageEmptyManifests := `{"schemaVersion":2,"mediaType":"` + ociManifest + `",` + config + `,"layers":[],"manifests":[]}`
	entry := func(body string) string {
		return `{"mediaType":"` + ociManifest + `","digest":"` + sum(body) + `","size":` + strconv.Itoa(len(body)) +
			`,"platform":{"os":"linux","architecture":"amd64"}}`
	}
	index := func(child, extra string) string {
		return `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[` + entry(child) + `]` + extra + `}`
	}
	served := map[string][2]string{
		"empty":                  {ociIndex, index(image, `,"layers":[],"config":null`)},
		"nulls":                  {ociIndex, index(image, `,"layers":null,"config":null`)},
		"childmanifests":         {ociIndex, index(imageEmptyManifests, `,"layers":[]`)},
		"manifests":              {ociManifest, imageEmptyManifests},
		"layered":                {ociIndex, index(image, `,"layers":[`+layer+`]`)},
		"configured":             {ociIndex, index(image, `,`+config)},
		sum(image):               {ociManifest, image},
		sum(imageEmptyManifests): {ociManifest, imageEmptyManifests},
		emptyConfig:              {"application/octet-stream", "{}"},
	}
	host := servedObjects(t, served)
	opts := testOptions()
	opts.Platform = v1.Platform{OS: "linux", Architecture: "amd64"}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tag := range []string{"empty", "nulls", "childmanifests", "manifests"} {
		if _, err := p.Image(ctx, mustRef(t, host+"/x/y:"+tag)); err != nil {
			t.Errorf("Image(%s) = %v, want it pulled", tag, err)
		}
	}
	for _, tag := range []string{"empty", "nulls", "childmanifests"} {
		idx, err := p.Index(ctx, mustRef(t, host+"/x/y:"+tag))
		if err != nil {
			t.Errorf("Index(%s) = %v, want it pulled", tag, err)
			continue
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := idx.Image(m.Manifests[0].Digest); err != nil {
			t.Errorf("Index(%s).Image = %v, want it pulled", tag, err)
		}
	}
	for _, tag := range []string{"layered", "configured"} {
		if _, err := p.Image(ctx, mustRef(t, host+"/x/y:"+tag)); !errors.Is(err, ErrUnsupportedMediaType) || !strings.Contains(err.Error(), "image manifest's fields") {
			t.Errorf("Image(an index with %s) = %v, want it refused as ambiguous", tag, err)
		}
	}
}
