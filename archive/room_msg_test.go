package archive

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testutil"
)

// TestLoadNoRoomSays: a load refused for want of room on a small disk says how much its
// blobs need and how much the disk has. It said "storing its blobs would leave less than
// 0.0 MiB free", which gave neither and read as if nothing at all were missing.
func TestLoadNoRoomSays(t *testing.T) {
	storeFS := testutil.SmallDisk(t, "size=1m")

	src := newStore(t)
	img, err := random.Image(600<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	archive := save(t, src, DockerArchive, put(t, src, "example.com/big:1", img))
	s, err := cache.Open(filepath.Join(storeFS, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(context.Background(), s, bytes.NewReader(archive), LoadOptions{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Load of %d KiB onto a 1 MiB disk = %v, want ErrTooLarge", len(archive)>>10, err)
	}
	msg := err.Error()
	t.Log(msg)
	if !regexp.MustCompile(`need (at least )?[0-9.]+ [KM]iB .*has [0-9.]+ [KM]iB free`).MatchString(msg) || strings.Contains(msg, " 0.0 MiB") || strings.Contains(msg, " 0 KiB") {
		t.Errorf("Load = %q, want it to say what the blobs need and what the disk has free", msg)
	}
}
