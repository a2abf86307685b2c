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

// TestConfigSizeInvalid: a manifest whose config has a negative size, or one too small for
// any config (a JSON object, "{}" at least), is refused as invalid, not as too large: pull
// said "config … is -5 bytes, over the 16 MiB limit". A config over the limit still is
// ErrManifestTooLarge. Both the image pulled by tag and an index's child (pull
// --all-platforms) say so.
func TestConfigSizeInvalid(t *testing.T) {
	const (
		ociManifest = "application/vnd.oci.image.manifest.v1+json"
		ociIndex    = "application/vnd.oci.image.index.v1+json"
	)
	sum := func(b string) string {
		h := sha256.Sum256([]byte(b))
		return "sha256:" + hex.EncodeToString(h[:])
	}
	manifest := func(size int64) string {
		return `{"schemaVersion":2,"mediaType":"` + ociManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			emptyConfig + `","size":` + strconv.FormatInt(size, 10) + `},"layers":[]}`
	}
	served := map[string][2]string{emptyConfig: {"application/octet-stream", "{}"}}
	for _, size := range []int64{-5, 0, 1, MaxConfigSize + 1} {
		m := manifest(size)
		tag := "s" + strings.TrimPrefix(strconv.FormatInt(size, 10), "-")
		served[tag] = [2]string{ociManifest, m}
		served[sum(m)] = [2]string{ociManifest, m}
		served["i"+tag] = [2]string{ociIndex, `{"schemaVersion":2,"mediaType":"` + ociIndex + `","manifests":[{"mediaType":"` + ociManifest +
			`","digest":"` + sum(m) + `","size":` + strconv.Itoa(len(m)) + `,"platform":{"os":"linux","architecture":"amd64"}}]}`}
	}
	host := servedObjects(t, served)
	opts := testOptions()
	opts.Platform = v1.Platform{OS: "linux", Architecture: "amd64"}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(what string, size int64, err error) {
		t.Helper()
		if size > MaxConfigSize {
			if !errors.Is(err, ErrManifestTooLarge) {
				t.Errorf("%s, config of %d bytes = %v, want ErrManifestTooLarge", what, size, err)
			}
			return
		}
		if err == nil || errors.Is(err, ErrManifestTooLarge) || strings.Contains(err.Error(), "limit") ||
			!strings.Contains(err.Error(), "invalid size, "+strconv.FormatInt(size, 10)) {
			t.Errorf("%s, config of size %d = %v, want it called an invalid size", what, size, err)
		}
	}
	for _, size := range []int64{-5, 0, 1, MaxConfigSize + 1} {
		tag := "s" + strings.TrimPrefix(strconv.FormatInt(size, 10), "-")
		_, err := p.Image(ctx, mustRef(t, host+"/x/y:"+tag))
		check("Image", size, err)
		_, err = p.Image(ctx, mustRef(t, host+"/x/y:i"+tag))
		check("Image of an index", size, err)
		idx, err := p.Index(ctx, mustRef(t, host+"/x/y:i"+tag))
		if err != nil {
			t.Fatalf("Index(%s) = %v", tag, err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		_, err = idx.Image(m.Manifests[0].Digest)
		check("Index.Image", size, err)
	}
}
