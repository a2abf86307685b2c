package cache

import (
	"context"
	"errors"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestInfosListsDamagedImage: an image whose config (or manifest) is missing or damaged is
// listed by Infos with what could be read and Damaged set, the other images as ever. Infos
// failed whole ("inspecting …: not found"), and with it images, system df, prune and rmi
// for the whole store, the broken image itself not removable.
func TestInfosListsDamagedImage(t *testing.T) {
	ctx := context.Background()
	plain := imageOf(t, seededLayers(t, 81, 2, 512)...)
	inIndex := imageOf(t, seededLayers(t, 82, 1, 512)...)
	healthy := imageOf(t, seededLayers(t, 83, 1, 512)...)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inIndex, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	for _, how := range []string{"missing", "flipped byte"} {
		t.Run(how, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			if _, err := s.WriteImage(ctx, "example.com/plain:1", plain, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.WriteIndex(ctx, "example.com/index:1", idx, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.WriteImage(ctx, "example.com/healthy:1", healthy, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, img := range []v1.Image{plain, inIndex} {
				cfg, _ := img.ConfigName()
				p := s.BlobPath(cfg)
				var err error
				if how == "missing" {
					err = os.Remove(p)
				} else {
					var b []byte
					if b, err = os.ReadFile(p); err == nil {
						b[len(b)/2] ^= 1
						err = os.WriteFile(p, b, 0o644)
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			infos, err := s.Infos()
			if err != nil {
				t.Fatalf("Infos() = %v, want the damaged images listed", err)
			}
			byRef := map[string]ImageInfo{}
			for _, i := range infos {
				byRef[i.Ref] = i
			}
			if len(infos) != 3 || byRef["example.com/healthy:1"].Damaged != nil {
				t.Fatalf("Infos() = %+v, want 3 images, the healthy one whole", infos)
			}

			p := byRef["example.com/plain:1"]
			cfg, _ := plain.ConfigName()
			m, _ := plain.Digest()
			if p.Damaged == nil || p.ID != cfg || p.Manifest.Digest != m || len(p.Layers) != 2 {
				t.Errorf("damaged plain image = ID %s, manifest %s, %d layers, damaged %v; want ID %s (from the manifest), %s, 2 layers, damaged", p.ID, p.Manifest.Digest, len(p.Layers), p.Damaged, cfg, m)
			}
			if how == "missing" && !errors.Is(p.Damaged, ErrNotFound) {
				t.Errorf("damaged = %v, want ErrNotFound", p.Damaged)
			}
			if want := layersSizeOf(t, plain); p.Size != want {
				t.Errorf("damaged plain image size = %d, want %d (its layers, the config gone)", p.Size, want)
			}
			if !hasDigest(p.Blobs, cfg) || !hasDigest(p.Blobs, m) {
				t.Errorf("damaged plain image blobs = %v, want its config and manifest among them", p.Blobs)
			}

			x := byRef["example.com/index:1"]
			xd, _ := idx.Digest()
			xcfg, _ := inIndex.ConfigName()
			if x.Damaged == nil || x.ID != xd || len(x.Platforms) != 1 || x.Platforms[0].ID != xcfg || x.Architecture != "amd64" {
				t.Errorf("damaged index = %+v, want ID the index's digest, one platform with its config's ID, amd64", x)
			}
			if want := layersSizeOf(t, inIndex); x.Size != want || x.Platforms[0].Size != want {
				t.Errorf("damaged index size = %d (platform %d), want %d", x.Size, x.Platforms[0].Size, want)
			}
		})
	}
}

// layersSizeOf sums the compressed sizes of img's layers.
func layersSizeOf(t *testing.T, img v1.Image) int64 {
	var n int64
	for _, d := range layerDescs(t, img) {
		n += d.Size
	}
	return n
}

func hasDigest(ds []v1.Descriptor, h v1.Hash) bool {
	for _, d := range ds {
		if d.Digest == h {
			return true
		}
	}
	return false
}
