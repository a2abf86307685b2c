package archive

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testutil"
)

// TestLoadNearlyFullDisk: a store's disk with room for an archive once and for its largest
// blob again takes the load. The archive is staged whole, then each blob copied into the
// store: checkRoom counted every blob on top of the staged archive, twice its size, and
// refused (here 60 MiB of four layers on a 100 MiB tmpfs, which holds 60 MiB plus a 15 MiB
// layer well above its 5 MiB floor). Each staged copy is now removed once its blob is
// stored, and the room counted is the largest blob's.
func TestLoadNearlyFullDisk(t *testing.T) {
	storeFS := testutil.SmallDisk(t, "size=100m")

	src := newStore(t)
	img, err := random.Image(15<<20, 4)
	if err != nil {
		t.Fatal(err)
	}
	archive := save(t, src, DockerArchive, put(t, src, "example.com/big:1", img))

	s, err := cache.Open(filepath.Join(storeFS, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(context.Background(), s, bytes.NewReader(archive), LoadOptions{})
	if err != nil {
		t.Fatalf("Load of %d MiB onto a 100 MiB disk = %v", len(archive)>>20, err)
	}
	if len(loaded) != 1 || loaded[0].Ref != "example.com/big:1" {
		t.Errorf("Load = %+v", loaded)
	}
	if got := len(storedBlobs(t, s)); got != 6 {
		t.Errorf("store holds %d blobs, want 6 (4 layers, config, manifest)", got)
	}
}
