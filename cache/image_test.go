package cache

import (
	"context"
	"errors"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func TestFindImageAndInfo(t *testing.T) {
	ls := seededLayers(t, 30, 2, 8<<10)
	a := imageOf(t, ls[0])
	b := imageOf(t, ls[1])
	reg := newFakeRegistry(t, a, b)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.WriteImage(ctx, "example.com/a:1", a, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(ctx, "example.com/a:also", a, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(ctx, "example.com/b:1", b, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	aManifest, _ := a.Digest()
	aID, _ := a.ConfigName()
	bID, _ := b.ConfigName()
	common := 0
	for common < 64 && aID.Hex[common] == bID.Hex[common] {
		common++
	}

	tests := []struct {
		query   string
		want    string
		wantErr error
	}{
		{"example.com/b:1", "example.com/b:1", nil},
		{aID.String(), "example.com/a:1", nil},
		{aID.Hex[:12], "example.com/a:1", nil},
		{"sha256:" + aManifest.Hex[:8], "example.com/a:1", nil},
		{bID.Hex[:max(common+1, MinIDPrefix)], "example.com/b:1", nil},
		{"example.com/c:1", "", ErrNotFound},
		{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0", "", ErrNotFound},
		{"zz", "", ErrNotFound},
	}
	for _, tt := range tests {
		got, err := s.FindImage(tt.query)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) || got.Name != tt.want {
			t.Errorf("FindImage(%q) = %q, %v, want %q, %v", tt.query, got.Name, err, tt.want, tt.wantErr)
		}
	}

	ref, err := s.FindImage("example.com/a:1")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := a.RawConfigFile()
	wantSize := int64(len(cfg)) + layerDescs(t, a)[0].Size
	if info.ID != aID || info.Manifest.Digest != aManifest || info.Size != wantSize || len(info.Layers) != 1 {
		t.Errorf("Info(a) = id %v manifest %v size %d layers %d, want %v %v %d 1", info.ID, info.Manifest.Digest, info.Size, len(info.Layers), aID, aManifest, wantSize)
	}
	infos, err := s.Infos()
	if err != nil || len(infos) != 3 {
		t.Errorf("Infos() = %d, %v, want 3 images", len(infos), err)
	}
}

// TestFindImageAmbiguous stores two images whose IDs share their first MinIDPrefix hex
// digits: that prefix is ambiguous rather than picking either, and a shorter one finds
// nothing, as docker takes no ID prefix of fewer than 4 digits ("rmi a" found, and removed,
// the one image whose ID began with a).
func TestFindImageAmbiguous(t *testing.T) {
	s := openStore(t, t.TempDir())
	base := imageOf(t, seededLayers(t, 100, 1, 64)...)
	byPrefix := map[string]v1.Image{}
	var pair []v1.Image
	var prefix string
	for i := 0; pair == nil; i++ {
		img, err := mutate.Config(base, v1.Config{Env: []string{fmt.Sprintf("I=%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		id, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		p := id.Hex[:MinIDPrefix]
		if other, ok := byPrefix[p]; ok {
			pair, prefix = []v1.Image{other, img}, p
		}
		byPrefix[p] = img
	}
	reg := newFakeRegistry(t, pair...)
	for i, img := range pair {
		if _, err := s.WriteImage(context.Background(), refName(i), img, WriteOptions{Fetch: reg.fetch}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.FindImage(prefix); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("FindImage(%q) = %q, %v, want ErrAmbiguous", prefix, got.Name, err)
	}
	for _, short := range []string{prefix[:MinIDPrefix-1], "sha256:" + prefix[:1]} {
		if got, err := s.FindImage(short); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindImage(%q) = %q, %v, want ErrNotFound: a prefix of fewer than %d digits", short, got.Name, err, MinIDPrefix)
		}
	}
}
