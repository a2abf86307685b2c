package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestInfosReadsEachImageOnce: Infos of a store holding thousands of names of one image
// reads that image once, not once per name: it read and hashed the same manifest and config
// for each tag, and `images`, `system df`, every rmi and prune took seconds on a store of
// 5000 tags of three images (0.3 ms a name). Each name still gets its own Ref and its own
// descriptor from index.json (whose annotations differ: the digest it was pulled by).
func TestInfosReadsEachImageOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	img := imageOf(t, seededLayers(t, 7, 2, 1024)...)
	reg := newFakeRegistry(t, img)
	if _, err := s.WriteImage(ctx, "example.com/one:0", img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "index.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	one := idx.Manifests[0]
	const names = 3000
	for i := 1; i < names; i++ {
		d := one
		d.Annotations = map[string]string{RefNameAnnotation: fmt.Sprintf("example.com/one:%d", i), "note": fmt.Sprint(i)}
		idx.Manifests = append(idx.Manifests, d)
	}
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	// The cost of reading one image: Info of one name, the best of a few.
	single := time.Duration(1 << 62)
	for range 5 {
		start := time.Now()
		if _, err := s.Info(Ref{Name: "example.com/one:0", Descriptor: one}); err != nil {
			t.Fatal(err)
		}
		single = min(single, time.Since(start))
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	all := time.Duration(1 << 62)
	var infos []ImageInfo
	for range 3 {
		start := time.Now()
		if infos, err = s.Infos(); err != nil {
			t.Fatal(err)
		}
		all = min(all, time.Since(start))
	}
	if len(infos) != names {
		t.Fatalf("Infos = %d images, want %d", len(infos), names)
	}
	for i, info := range infos {
		want := fmt.Sprintf("example.com/one:%d", i)
		note := ""
		if i > 0 {
			note = fmt.Sprint(i)
		}
		if info.Ref != want || info.Manifest.Annotations["note"] != note || info.Damaged != nil || info.ID != infos[0].ID || info.Size != infos[0].Size {
			t.Fatalf("Infos[%d] = ref %s, annotations %v, damaged %v, ID %s, size %d; want %s with its own descriptor and the image's ID and size",
				i, info.Ref, info.Manifest.Annotations, info.Damaged, info.ID, info.Size, want)
		}
	}
	// Read once, the image's cost is paid once; index.json's parse and a copy per name
	// remain. Read per name, it was paid 3000 times.
	if all > 1500*single {
		t.Errorf("Infos of %d names of one image took %v, one name's Info %v: %.0f times as long, want the image read once", names, all, single, float64(all)/float64(single))
	}
	t.Logf("Infos of %d names: %v; Info of one: %v (%.0fx)", names, all, single, float64(all)/float64(single))
}
