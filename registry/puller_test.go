package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestPushThenPullKeepsDigests(t *testing.T) {
	host := serve(t, nil)
	img := randomImage(t)
	ref := pushImage(t, host+"/test/app:1", img)

	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Fatalf("Image(%s) = %v", ref, err)
	}
	if want := digestOf(t, img); got.Descriptor.Digest != want || digestOf(t, got) != want {
		t.Errorf("Image(%s).Descriptor.Digest = %s, want %s", ref, got.Descriptor.Digest, want)
	}
	if got.Source != host {
		t.Errorf("Image(%s).Source = %q, want %q", ref, got.Source, host)
	}
	if got.Root.Digest != got.Descriptor.Digest {
		t.Errorf("Root = %s, want the manifest %s when there is no index", got.Root.Digest, got.Descriptor.Digest)
	}
	wantLayers, _ := img.Layers()
	gotLayers, err := got.Layers()
	if err != nil || len(gotLayers) != len(wantLayers) {
		t.Fatalf("Layers() = %d, %v; want %d", len(gotLayers), err, len(wantLayers))
	}
	for i := range wantLayers {
		if digestOf(t, gotLayers[i]) != digestOf(t, wantLayers[i]) {
			t.Errorf("layer %d digest = %s, want %s", i, digestOf(t, gotLayers[i]), digestOf(t, wantLayers[i]))
		}
	}

	head, err := p.Head(context.Background(), ref)
	if err != nil || head.Digest != got.Root.Digest {
		t.Errorf("Head(%s) = %v, %v; want digest %s", ref, head.Digest, err, got.Root.Digest)
	}
}

func TestFetchBlobOffset(t *testing.T) {
	host := serve(t, nil)
	img := randomImage(t)
	ref := pushImage(t, host+"/test/blob:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	rc, _ := layers[0].Compressed()
	whole, _ := io.ReadAll(rc)
	h := digestOf(t, layers[0])

	for _, off := range []int64{0, 1, int64(len(whole)) / 2, int64(len(whole)) - 1} {
		body, err := got.FetchBlob(context.Background(), h, off)
		if err != nil {
			t.Fatalf("FetchBlob(%s, %d) = %v", h, off, err)
		}
		tail, err := io.ReadAll(body)
		body.Close()
		if err != nil || !bytes.Equal(tail, whole[off:]) {
			t.Errorf("FetchBlob(%s, %d) read %d bytes, %v; want the last %d bytes", h, off, len(tail), err, len(whole)-int(off))
		}
	}

	missing := v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000000"}
	if _, err := got.FetchBlob(context.Background(), missing, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("FetchBlob(missing) = %v, want ErrNotFound", err)
	}
}

func TestPlatformSelection(t *testing.T) {
	host := serve(t, nil)
	amd64, arm64, armv7 := randomImage(t), randomImage(t), randomImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: armv7, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}}},
	)
	ref := mustRef(t, host+"/multi/arch:1")
	if err := PushIndex(context.Background(), ref, idx, testOptions()); err != nil {
		t.Fatalf("PushIndex = %v", err)
	}
	idxDigest := digestOf(t, idx)

	tests := []struct {
		platform v1.Platform
		want     v1.Image // nil: no match
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, amd64},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, arm64},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, arm64},
		{v1.Platform{OS: "linux", Architecture: "arm"}, armv7},
		{v1.Platform{Architecture: "arm64"}, arm64}, // OS defaults to linux
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, nil},
		{v1.Platform{OS: "linux", Architecture: "s390x"}, nil},
		{v1.Platform{OS: "windows", Architecture: "amd64"}, nil},
	}
	for _, tt := range tests {
		t.Run(platformString(tt.platform), func(t *testing.T) {
			opts := testOptions()
			opts.Platform = tt.platform
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), ref)
			if tt.want == nil {
				var pe *PlatformError
				if !errors.Is(err, ErrNoMatchingPlatform) || !errors.As(err, &pe) {
					t.Fatalf("Image(%s) for %s = %v, want ErrNoMatchingPlatform", ref, platformString(tt.platform), err)
				}
				if len(pe.Available) != 3 {
					t.Errorf("PlatformError.Available = %v, want the 3 platforms of the index", pe.Available)
				}
				for _, s := range []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"} {
					if !bytes.Contains([]byte(err.Error()), []byte(s)) {
						t.Errorf("error %q does not list %s", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Image(%s) for %s = %v", ref, platformString(tt.platform), err)
			}
			if want := digestOf(t, tt.want); got.Descriptor.Digest != want {
				t.Errorf("Image(%s) for %s = %s, want %s", ref, platformString(tt.platform), got.Descriptor.Digest, want)
			}
			if got.Root.Digest != idxDigest {
				t.Errorf("Root.Digest = %s, want the index %s", got.Root.Digest, idxDigest)
			}
			if got.Descriptor.Platform == nil {
				t.Errorf("Descriptor.Platform = nil, want the index entry's platform")
			}
		})
	}
}

func TestIndex(t *testing.T) {
	host := serve(t, nil)
	img := randomImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ref := mustRef(t, host+"/index/app:1")
	if err := PushIndex(context.Background(), ref, idx, testOptions()); err != nil {
		t.Fatal(err)
	}
	single := pushImage(t, host+"/index/single:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Index(context.Background(), ref)
	if err != nil || got.Descriptor.Digest != digestOf(t, idx) || digestOf(t, got) != digestOf(t, idx) {
		t.Fatalf("Index(%s) = %v; want digest %s", ref, err, digestOf(t, idx))
	}
	if _, err := p.Index(context.Background(), single); !errors.Is(err, ErrUnsupportedMediaType) || !errors.Is(err, ErrNotIndex) {
		t.Errorf("Index(single image) = %v, want ErrUnsupportedMediaType and ErrNotIndex", err)
	}
}

// TestIndexFetchBlob: the blobs of any platform an Index lists come through its FetchBlob,
// resumed from an offset with a closed Range (which go-containerregistry's registry needs).
func TestIndexFetchBlob(t *testing.T) {
	host := serve(t, nil)
	amd, arm := randomImage(t), randomImage(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	ref := mustRef(t, host+"/index/multi:1")
	if err := PushIndex(context.Background(), ref, idx, testOptions()); err != nil {
		t.Fatal(err)
	}
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Index(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	child, err := got.Image(digestOf(t, arm))
	if err != nil {
		t.Fatalf("Index.Image(arm64) = %v", err)
	}
	layers, err := child.Layers()
	if err != nil {
		t.Fatal(err)
	}
	l := layers[0]
	d, _ := l.Digest()
	rc, _ := l.Compressed()
	whole, _ := io.ReadAll(rc)
	rc.Close()
	for _, off := range []int64{0, 10} {
		rc, err := got.FetchBlob(context.Background(), d, off)
		if err != nil {
			t.Fatalf("FetchBlob(%s, %d) = %v", d, off, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(b, whole[off:]) {
			t.Errorf("FetchBlob(%s, %d) = %d bytes, %v; want the blob from byte %d", d, off, len(b), err, off)
		}
	}
}
