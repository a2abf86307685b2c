package cache

import (
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestUnknownKindNotRun: an index entry of a media type strata does not know (an SBOM)
// listed with this host's platform ahead of the image is stored but never picked to run, as
// the image-spec says such an entry MUST be ignored: WriteIndex unpacks the image's layers,
// and ImageFor returns the image. The SBOM was picked: nothing of the image was unpacked, and
// run started the SBOM. Alone, it is no platform to run.
func TestUnknownKindNotRun(t *testing.T) {
	ctx := context.Background()
	ls := seededLayers(t, 81, 2, 4<<10)
	img, sbom := imageOf(t, ls[0]), imageOf(t, ls[1])
	imgDigest, _ := img.Digest()
	p := amd64
	const sbomType = types.MediaType("application/vnd.example.sbom.v1+json")
	both := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: sbom, Descriptor: v1.Descriptor{MediaType: sbomType, Platform: &p}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})

	s := openStore(t, t.TempDir())
	rec := newLayerRecorder()
	if _, err := s.WriteIndex(ctx, "example.com/sbom:1", both, WriteOptions{Platform: amd64, Layer: rec.layer, NeedLayer: func(v1.Hash) bool { return true }}); err != nil {
		t.Fatalf("WriteIndex() = %v", err)
	}
	want := layerDescs(t, img)[0].Digest
	if len(rec.got) != 1 || rec.n[want] != 1 {
		t.Errorf("Layer got %d layers, want the image's one (%s)", len(rec.got), short(want))
	}
	d, err := s.Resolve("example.com/sbom:1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ImageFor(Ref{Name: "example.com/sbom:1", Descriptor: d}, amd64); err != nil || got.Digest != imgDigest {
		t.Errorf("ImageFor(amd64) = %s, %v; want the image %s", got.Digest, err, short(imgDigest))
	}

	alone := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: sbom, Descriptor: v1.Descriptor{MediaType: sbomType, Platform: &p}})
	if _, err := s.WriteIndex(ctx, "example.com/sbom:2", alone, WriteOptions{Platform: amd64}); err != nil {
		t.Fatalf("WriteIndex(an index of an SBOM) = %v", err)
	}
	d, err = s.Resolve("example.com/sbom:2")
	if err != nil {
		t.Fatal(err)
	}
	var perr *PlatformError
	if _, err := s.ImageFor(Ref{Name: "example.com/sbom:2", Descriptor: d}, amd64); !errors.As(err, &perr) || len(perr.Available) != 0 {
		t.Errorf("ImageFor(an index of an SBOM) = %v, want a PlatformError with none available", err)
	}
}
