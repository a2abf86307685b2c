package cache

import (
	"context"
	"errors"
	"testing"
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
		{bID.Hex[:common+1], "example.com/b:1", nil},
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

// TestFindImageAmbiguous stores 17 images: their IDs have 16 possible first hex digits, so two
// share one, and that one-digit prefix must be ambiguous rather than pick either.
func TestFindImageAmbiguous(t *testing.T) {
	s := openStore(t, t.TempDir())
	byFirst := map[byte]string{}
	var prefix string
	for i := range 17 {
		img := imageOf(t, seededLayers(t, int64(100+i), 1, 64)...)
		reg := newFakeRegistry(t, img)
		ref := refName(i)
		if _, err := s.WriteImage(context.Background(), ref, img, WriteOptions{Fetch: reg.fetch}); err != nil {
			t.Fatal(err)
		}
		id, _ := img.ConfigName()
		if _, ok := byFirst[id.Hex[0]]; ok && prefix == "" {
			prefix = id.Hex[:1]
		}
		byFirst[id.Hex[0]] = ref
	}
	if got, err := s.FindImage(prefix); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("FindImage(%q) = %q, %v, want ErrAmbiguous", prefix, got.Name, err)
	}
}
