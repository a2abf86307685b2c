package cache

import (
	"context"
	"testing"
)

// TestWriteImageUntagged: an image written with Untagged is stored whole under no ref, a
// dangling image (docker commit and import without a name); a ref with it is refused.
func TestWriteImageUntagged(t *testing.T) {
	s := openStore(t, t.TempDir())
	img := imageOf(t, seededLayers(t, 7, 2, 1024)...)
	ctx := context.Background()
	if _, err := s.WriteImage(ctx, "example.com/a:1", img, WriteOptions{Untagged: true}); err == nil {
		t.Error("a ref with Untagged was taken")
	}
	res, err := s.WriteImage(ctx, "", img, WriteOptions{Untagged: true})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := s.List()
	if err != nil || len(refs) != 0 {
		t.Fatalf("refs %v (%v), want none", refs, err)
	}
	dangling, err := s.Dangling()
	if err != nil {
		t.Fatal(err)
	}
	if len(dangling) != 1 || dangling[0].ID != res.ID || !s.Complete(dangling[0].Manifest) {
		t.Errorf("dangling %+v, want the image %s whole", dangling, res.ID)
	}
	if _, err := s.WriteImage(ctx, "", img, WriteOptions{}); err == nil {
		t.Error("an empty ref without Untagged was taken")
	}
}
