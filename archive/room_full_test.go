package archive

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testutil"
)

// TestLoadStoredImageOnFullDisk: loading an archive whose blobs are all in the store already
// (to tag its images again) needs no room: on a full disk it was refused as "archive too large:
// its blobs need 0 KiB in …, which has 0 KiB free".
func TestLoadStoredImageOnFullDisk(t *testing.T) {
	storeFS := testutil.SmallDisk(t, "size=16m")
	src := newStore(t)
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := put(t, src, "example.com/small:1", img)
	dir := filepath.Join(t.TempDir(), "layout")
	if err := SaveDir(context.Background(), dir, src, []cache.Ref{ref}, SaveOptions{Format: OCIDir}); err != nil {
		t.Fatal(err)
	}
	s, err := cache.Open(filepath.Join(storeFS, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(context.Background(), s, dir, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.FillDisk(t, storeFS)
	loaded, err := LoadDir(context.Background(), s, dir, LoadOptions{})
	if err != nil {
		t.Fatalf("LoadDir of stored images on a full disk = %v", err)
	}
	if len(loaded) != 1 || loaded[0].Ref != "example.com/small:1" {
		t.Errorf("LoadDir = %+v", loaded)
	}
}
