package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// FindImageWith finds an unnamed image a root names (a container's image, its tag moved) by
// its ID or manifest digest, whole or a prefix, "sha256:" or not, as docker finds a dangling
// image; FindImage, without roots, does not. A prefix of both a named and an unnamed image is
// ambiguous, as docker refuses one of two images. Before, run, image inspect and save of a
// dangling image's ID said it was not in the store.
func TestFindImageWithFindsUnnamedRoots(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	old := imageOf(t, seededLayers(t, 101, 1, 4<<10)...)
	oldManifest, _ := old.Digest()
	oldID, _ := old.ConfigName()
	if _, err := s.WriteImage(ctx, "example.com/a:latest", old, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Another image whose ID starts as the old image's does, by the MinIDPrefix digits a
	// prefix needs, for the ambiguous prefix: one layer, and configs that differ by an env
	// value until one does (one in 65536), found by hashing the config alone.
	prefix := oldID.Hex[:MinIDPrefix]
	base := imageOf(t, seededLayers(t, 200, 1, 64)...)
	cf, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	var other v1.Image
	for i := 0; other == nil; i++ {
		cf.Config.Env = []string{fmt.Sprintf("I=%d", i)}
		raw, err := json.Marshal(cf)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(hashOf(raw).Hex, prefix) {
			if i > 1<<22 {
				t.Fatal("no image with a shared prefix")
			}
			continue
		}
		img, err := mutate.ConfigFile(base, cf)
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := img.ConfigName(); !strings.HasPrefix(id.Hex, prefix) {
			t.Fatalf("config %s of the image made does not start with %s as its JSON did", id, prefix)
		}
		other = img
	}
	if _, err := s.WriteImage(ctx, "example.com/b:1", other, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	nd, err := s.Resolve("example.com/b:1")
	if err != nil {
		t.Fatal(err)
	}
	// The tag moves, as `tag example.com/b:1 example.com/a:latest`: the old image is unnamed.
	if err := s.Tag("example.com/a:latest", nd); err != nil {
		t.Fatal(err)
	}
	roots := []v1.Hash{oldID, nd.Digest}
	for _, q := range []string{oldID.String(), oldID.Hex, oldID.Hex[:12], "sha256:" + oldID.Hex[:12], oldManifest.Hex[:12], oldManifest.String()} {
		r, err := s.FindImageWith(q, roots)
		if err != nil || r.Name != "" || r.Descriptor.Digest != oldManifest {
			t.Errorf("FindImageWith(%s) = %+v, %v; want the unnamed image's manifest %s", q, r, err, short(oldManifest))
		}
		if _, err := s.FindImage(q); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindImage(%s) = %v; want ErrNotFound without roots", q, err)
		}
	}
	// A root no longer unnamed, or unknown, finds nothing more than FindImage.
	if _, err := s.FindImageWith(oldID.Hex[:12], []v1.Hash{nd.Digest, hashOf([]byte("x"))}); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindImageWith(old ID, roots without it) = %v; want ErrNotFound", err)
	}
	// The named image is found as before, by name and by ID.
	if r, err := s.FindImageWith("example.com/a:latest", roots); err != nil || r.Descriptor.Digest != nd.Digest {
		t.Errorf("FindImageWith(example.com/a:latest) = %+v, %v; want the image the tag moved to", r, err)
	}
	_, err = s.FindImageWith(prefix, roots)
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), short(oldID)) {
		t.Errorf("FindImageWith(%s) = %v; want ErrAmbiguous naming %s", prefix, err, short(oldID))
	}
}
