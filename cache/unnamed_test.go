package cache

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// An image whose tag moved to another image stays whole while a container records its ID
// (PruneKeeping's roots), and Unnamed describes it; Prune without roots collects it, as
// before. The audit's case: `tag busybox alpine:latest` with a container made from the old
// alpine:latest, then `prune`, deleted the container's manifest, config and layers.
func TestPruneKeepingKeepsUnnamedRoots(t *testing.T) {
	ctx := context.Background()
	old := imageOf(t, seededLayers(t, 91, 2, 4<<10)...)
	newer := imageOf(t, seededLayers(t, 92, 1, 4<<10)...)
	inIndex := imageOf(t, seededLayers(t, 93, 1, 4<<10)...)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inIndex, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	oldManifest, _ := old.Digest()
	oldConfig, _ := old.ConfigName()
	idxDigest, _ := idx.Digest()

	s := openStore(t, t.TempDir())
	if _, err := s.WriteImage(ctx, "example.com/a:latest", old, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteIndex(ctx, "example.com/multi:1", idx, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(ctx, "example.com/b:1", newer, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Named, the images are no unnamed ones.
	if infos, err := s.Unnamed([]v1.Hash{oldConfig, idxDigest}); err != nil || len(infos) != 0 {
		t.Fatalf("Unnamed(named images) = %d images, %v; want none", len(infos), err)
	}
	// The tag moves (as `tag example.com/b:1 example.com/a:latest`); the index loses its name.
	nd, err := s.Resolve("example.com/b:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("example.com/a:latest", nd); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag("example.com/multi:1"); err != nil {
		t.Fatal(err)
	}
	unknown := hashOf([]byte("no such image"))
	roots := []v1.Hash{oldConfig, idxDigest, unknown}
	infos, err := s.Unnamed(roots)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].ID != oldConfig || infos[0].Manifest.Digest != oldManifest || infos[0].Ref != "" || infos[0].Damaged != nil ||
		infos[1].ID != idxDigest || len(infos[1].Platforms) != 1 || infos[1].Damaged != nil {
		t.Fatalf("Unnamed() = %+v; want the old image (ID %s) and the index (%s)", infos, short(oldConfig), short(idxDigest))
	}
	if len(infos[0].Config.RootFS.DiffIDs) != 2 {
		t.Errorf("Unnamed()[0].Config has %d DiffIDs, want 2", len(infos[0].Config.RootFS.DiffIDs))
	}

	var want []v1.Hash
	for _, info := range infos {
		for _, b := range info.Blobs {
			want = append(want, b.Digest)
		}
	}
	if len(want) != 2+1+1+(1+1+1)+1 { // old: 2 layers, config, manifest; index: layer, config, manifest, index
		t.Fatalf("the unnamed images reach %d blobs, want 8", len(want))
	}
	called := 0
	removed, _, err := s.PruneKeeping(ctx, false, func() ([]v1.Hash, error) { called++; return roots, nil }, nil)
	if err != nil || called != 1 {
		t.Fatalf("PruneKeeping() = %v (roots called %d times)", err, called)
	}
	if len(removed) != 0 {
		t.Errorf("PruneKeeping() removed %d blobs, want none: %v", len(removed), removed)
	}
	for _, h := range want {
		if !s.HasBlob(h) {
			t.Errorf("after PruneKeeping: blob %s is gone", short(h))
		}
	}
	// Once no container records them, they are garbage.
	removed, _, err = s.Prune(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != len(want) {
		t.Errorf("Prune() removed %d blobs, want %d", len(removed), len(want))
	}
	for _, h := range want {
		if s.HasBlob(h) {
			t.Errorf("after Prune: blob %s is still there", short(h))
		}
	}
	if infos, err := s.Unnamed(roots); err != nil || len(infos) != 0 {
		t.Errorf("Unnamed(collected images) = %d images, %v; want none", len(infos), err)
	}
}

// Unreached describes the stored manifests and indexes no ref reaches, each once, and
// nothing a ref reaches (an index's own manifests included) nor blobs that are no manifest.
func TestUnreached(t *testing.T) {
	ctx := context.Background()
	named := imageOf(t, seededLayers(t, 94, 1, 4<<10)...)
	dropped := imageOf(t, seededLayers(t, 95, 2, 4<<10)...)
	inIndex := imageOf(t, seededLayers(t, 96, 1, 4<<10)...)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: inIndex, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	droppedManifest, _ := dropped.Digest()

	s := openStore(t, t.TempDir())
	for ref, img := range map[string]v1.Image{"example.com/named:1": named, "example.com/dropped:1": dropped} {
		if _, err := s.WriteImage(ctx, ref, img, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.WriteIndex(ctx, "example.com/multi:1", idx, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if infos, err := s.Unreached(); err != nil || len(infos) != 0 {
		t.Fatalf("Unreached() with every image named = %d images, %v; want none", len(infos), err)
	}
	if err := s.Untag("example.com/dropped:1"); err != nil {
		t.Fatal(err)
	}
	infos, err := s.Unreached()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Manifest.Digest != droppedManifest || len(infos[0].Config.RootFS.DiffIDs) != 2 {
		t.Fatalf("Unreached() = %+v; want the untagged image (manifest %s) alone", infos, short(droppedManifest))
	}
}
