package cache

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestIndexPlatformNormalized: a stored index whose entry spells the platform in other words
// than linux/amd64 ("x86_64", "Linux"/"AMD64", the variant "v1") is the image WriteIndex
// unpacks and ImageFor hands run for linux/amd64, as pull picks it (platforms.Matches on both
// sides): pull took it and run said "no image for linux/amd64" otherwise. An entry of
// another architecture is still no match.
func TestIndexPlatformNormalized(t *testing.T) {
	ctx := context.Background()
	ls := seededLayers(t, 93, 2, 4<<10)
	img, other := imageOf(t, ls[0]), imageOf(t, ls[1])
	imgDigest, _ := img.Digest()
	arm := v1.Platform{OS: "linux", Architecture: "aarch64", Variant: "v8"}
	s := openStore(t, t.TempDir())
	for i, have := range []v1.Platform{
		{OS: "linux", Architecture: "x86_64"},
		{OS: "Linux", Architecture: "AMD64"},
		{OS: "linux", Architecture: "amd64", Variant: "v1"},
	} {
		have := have
		idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
			mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &arm}},
			mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &have}})
		name := "example.com/norm:" + string(rune('a'+i))
		rec := newLayerRecorder()
		if _, err := s.WriteIndex(ctx, name, idx, WriteOptions{Platform: amd64, Layer: rec.layer, NeedLayer: func(v1.Hash) bool { return true }}); err != nil {
			t.Fatalf("WriteIndex(%s entry) = %v", have.String(), err)
		}
		if want := layerDescs(t, img)[0].Digest; len(rec.got) != 1 || rec.n[want] != 1 {
			t.Errorf("WriteIndex(%s entry) unpacked %d layers, want the image's one", have.String(), len(rec.got))
		}
		d, err := s.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.ImageFor(Ref{Name: name, Descriptor: d}, amd64); err != nil || got.Digest != imgDigest {
			t.Errorf("ImageFor(amd64) of an index listing %s = %s, %v; want the image %s", have.String(), got.Digest, err, short(imgDigest))
		}
		if got, err := s.ImageFor(Ref{Name: name, Descriptor: d}, v1.Platform{OS: "linux", Architecture: "x86_64"}); err != nil || got.Digest != imgDigest {
			t.Errorf("ImageFor(linux/x86_64) of an index listing %s = %s, %v; want the image %s", have.String(), got.Digest, err, short(imgDigest))
		}
		if got, err := s.ImageFor(Ref{Name: name, Descriptor: d}, v1.Platform{OS: "linux", Architecture: "arm64"}); err != nil || got.Digest == imgDigest {
			t.Errorf("ImageFor(arm64) of an index listing %s = %s, %v; want the other image", have.String(), got.Digest, err)
		}
		if _, err := s.ImageFor(Ref{Name: name, Descriptor: d}, v1.Platform{OS: "linux", Architecture: "s390x"}); err == nil {
			t.Errorf("ImageFor(s390x) of an index listing %s succeeded", have.String())
		}
	}
}
