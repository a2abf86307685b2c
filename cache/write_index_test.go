package cache

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64v8 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	unknown = v1.Platform{OS: "unknown", Architecture: "unknown"}
)

// multiIndex is an index of an amd64 and an arm64 image (two layers each, none shared) and an
// attestation-like entry, as BuildKit pushes them.
func multiIndex(t *testing.T) (idx v1.ImageIndex, byArch map[string]v1.Image) {
	t.Helper()
	ls := seededLayers(t, 70, 5, 4<<10)
	byArch = map[string]v1.Image{
		"amd64":   imageOf(t, ls[0], ls[1]),
		"arm64":   imageOf(t, ls[2], ls[3]),
		"unknown": imageOf(t, ls[4]),
	}
	idx = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, e := range []struct {
		arch string
		p    v1.Platform
	}{{"amd64", amd64}, {"arm64", arm64v8}, {"unknown", unknown}} {
		p := e.p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: byArch[e.arch], Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx, byArch
}

// TestWriteIndex: every platform's blobs are stored and verified, only the chosen platform's
// layers reach the Layer callback, and the ref names the index, which Info, ImageFor and
// Blobs read back.
func TestWriteIndex(t *testing.T) {
	ctx := context.Background()
	idx, byArch := multiIndex(t)
	idxDigest, _ := idx.Digest()
	tests := []struct {
		name     string
		platform v1.Platform
		unpacked string // the image whose layers Layer gets; "" for none
	}{
		{"amd64", amd64, "amd64"},
		{"arm64 without variant", v1.Platform{OS: "linux", Architecture: "arm64"}, "arm64"},
		{"a platform the index lacks", v1.Platform{OS: "linux", Architecture: "s390x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			rec := newLayerRecorder()
			res, err := s.WriteIndex(ctx, "example.com/multi:1", idx, WriteOptions{Platform: tt.platform, Layer: rec.layer, NeedLayer: func(v1.Hash) bool { return true }})
			if err != nil {
				t.Fatalf("WriteIndex() = %v", err)
			}
			if res.Manifest.Digest != idxDigest || res.ID != idxDigest || !res.Downloaded || !res.Updated {
				t.Errorf("WriteIndex() = %+v, want the index %s, downloaded and updated", res, idxDigest)
			}
			var want []v1.Descriptor
			if tt.unpacked != "" {
				want = layerDescs(t, byArch[tt.unpacked])
			}
			if len(rec.got) != len(want) {
				t.Errorf("Layer got %d layers, want %d (those of %q)", len(rec.got), len(want), tt.unpacked)
			}
			for _, l := range want {
				if rec.n[l.Digest] != 1 {
					t.Errorf("Layer got %s %d times, want once", short(l.Digest), rec.n[l.Digest])
				}
			}
			d, err := s.Resolve("example.com/multi:1")
			if err != nil || d.Digest != idxDigest || !d.MediaType.IsIndex() {
				t.Fatalf("Resolve() = %v, %v; want the index %s", d.Digest, err, idxDigest)
			}
			if !s.Complete(d) {
				t.Errorf("Complete(index) = false after WriteIndex")
			}
			blobs, err := s.Blobs(d)
			if err != nil {
				t.Fatal(err)
			}
			// 5 layers, 3 configs, 3 manifests, the index.
			if len(blobs) != 12 || blobs[len(blobs)-1].Digest != idxDigest {
				t.Errorf("Blobs(index) = %d blobs ending in %v, want 12 ending in the index", len(blobs), blobs[len(blobs)-1].Digest)
			}

			// A second write finds everything stored.
			again, err := s.WriteIndex(ctx, "example.com/multi:1", idx, WriteOptions{Platform: tt.platform})
			if err != nil || again.Downloaded || again.Updated || again.Bytes != 0 {
				t.Errorf("WriteIndex() again = %+v, %v; want nothing downloaded or updated", again, err)
			}
		})
	}
}

func TestIndexInfoAndImageFor(t *testing.T) {
	ctx := context.Background()
	idx, byArch := multiIndex(t)
	idxDigest, _ := idx.Digest()
	s := openStore(t, t.TempDir())
	if _, err := s.WriteIndex(ctx, "example.com/multi:1", idx, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, err := s.FindImage("example.com/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if byPrefix, err := s.FindImage(idxDigest.Hex[:12]); err != nil || byPrefix.Name != ref.Name {
		t.Errorf("FindImage(index digest prefix) = %q, %v; want %q", byPrefix.Name, err, ref.Name)
	}

	info, err := s.Info(ref)
	if err != nil {
		t.Fatalf("Info(index) = %v", err)
	}
	var wantSize int64
	for _, img := range byArch {
		m, _ := img.Manifest()
		wantSize += m.Config.Size
		for _, l := range m.Layers {
			wantSize += l.Size
		}
	}
	if info.ID != idxDigest || info.Manifest.Digest != idxDigest || info.Size != wantSize || len(info.Platforms) != 3 {
		t.Errorf("Info(index) = ID %s, manifest %s, size %d, %d platforms; want %s, %s, %d, 3", info.ID, info.Manifest.Digest, info.Size, len(info.Platforms), idxDigest, idxDigest, wantSize)
	}
	d, _ := s.Resolve("example.com/multi:1")
	if blobs, err := s.Blobs(d); err != nil || len(info.Blobs) != len(blobs) {
		t.Errorf("Info(index).Blobs has %d blobs, want Blobs()'s %d (%v)", len(info.Blobs), len(blobs), err)
	}
	host := hostPlatform()
	if want := byArch[host.Architecture]; want != nil {
		wantID, _ := want.ConfigName()
		if wl := layerDescs(t, want); len(info.Layers) != len(wl) || info.Layers[0].Digest != wl[0].Digest {
			t.Errorf("Info(index).Layers = %v, want the host image's %v", info.Layers, wl)
		}
		found := false
		for _, p := range info.Platforms {
			found = found || p.ID == wantID
		}
		if !found {
			t.Errorf("Info(index).Platforms lacks the host image's config %s", short(wantID))
		}
	}

	tests := []struct {
		want    v1.Platform
		image   string
		wantErr error
	}{
		{amd64, "amd64", nil},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, "arm64", nil},
		{arm64v8, "arm64", nil},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v9"}, "", ErrNoPlatform},
		{v1.Platform{OS: "linux", Architecture: "riscv64"}, "", ErrNoPlatform},
	}
	for _, tt := range tests {
		got, err := s.ImageFor(ref, tt.want)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ImageFor(%s) = %v, want %v", tt.want.String(), err, tt.wantErr)
			}
			continue
		}
		want, _ := byArch[tt.image].Digest()
		if err != nil || got.Digest != want {
			t.Errorf("ImageFor(%s) = %s, %v; want %s", tt.want.String(), short(got.Digest), err, short(want))
		}
	}
	_, err = s.ImageFor(ref, v1.Platform{OS: "linux", Architecture: "riscv64"})
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "no image for linux/riscv64 in example.com/multi:1") || strings.Contains(msg, "unknown") {
		t.Errorf("ImageFor(riscv64) = %q, want one line naming the platform, the ref and the real platforms", msg)
	}
}

// TestPruneKeepsIndex: Prune keeps every platform's blobs while a ref names the index, and
// removes all of them once it is untagged.
func TestPruneKeepsIndex(t *testing.T) {
	ctx := context.Background()
	idx, _ := multiIndex(t)
	s := openStore(t, t.TempDir())
	if _, err := s.WriteIndex(ctx, "example.com/multi:1", idx, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Resolve("example.com/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := s.Blobs(d)
	if err != nil {
		t.Fatal(err)
	}
	removed, _, err := s.Prune(ctx, false)
	if err != nil || len(removed) != 0 {
		t.Fatalf("Prune() with the index tagged = %d removed, %v; want none", len(removed), err)
	}
	if !s.Complete(d) {
		t.Fatal("Prune() removed a blob the index reaches")
	}
	if err := s.Untag("example.com/multi:1"); err != nil {
		t.Fatal(err)
	}
	removed, _, err = s.Prune(ctx, false)
	if err != nil || len(removed) != len(blobs) {
		t.Errorf("Prune() after Untag = %d removed, %v; want all %d", len(removed), err, len(blobs))
	}
}
