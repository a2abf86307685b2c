package cache

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
)

// TestMinFreeScales: the floor is 256 MiB on a big filesystem and 5% of a small one, so a
// store on a 120 MB tmpfs keeps 6 MiB free, not more than the filesystem has.
func TestMinFreeScales(t *testing.T) {
	tests := []struct{ size, want int64 }{
		{0, DefaultMinFree},
		{120 << 20, 6 << 20},
		{1 << 30, 1 << 30 / 20},
		{5 << 30, DefaultMinFree},
		{1 << 40, DefaultMinFree},
	}
	for _, tt := range tests {
		if got := MinFree(tt.size); got != tt.want {
			t.Errorf("MinFree(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

// TestRoomForSaysWhatAndWhere: a refusal names the store's directory, what is free and what
// is needed (the bytes to write plus the floor).
func TestRoomForSaysWhatAndWhere(t *testing.T) {
	if err := roomFor(4<<20, 100<<20, 120<<20, 0, "/s/oci"); err != nil {
		t.Errorf("4 MiB into 100 MiB free of 120 MiB = %v, want room", err)
	}
	err := roomFor(16<<20, 20<<20, 120<<20, 0, "/s/oci")
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("16 MiB into 20 MiB free of 120 MiB = %v, want ErrNoSpace", err)
	}
	for _, want := range []string{"/s/oci", "20 MiB free", "22 MiB needed", "16 MiB to write", "6 MiB kept free", "5% of its 120 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	err = roomFor(1, 200<<20, 1<<40, 0, "/s/oci")
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "at most 256 MiB") {
		t.Errorf("1 byte into 200 MiB free of 1 TiB = %v, want ErrNoSpace keeping 256 MiB", err)
	}
}

// TestDownloadIntoSmallFilesystem: a store on a 120 MiB tmpfs takes a 20 MiB layer (big
// enough for the free space to be checked) that leaves ~100 MiB free. The fixed 256 MiB
// floor refused it, where docker and podman pull it.
func TestDownloadIntoSmallFilesystem(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=120m,mode=0700"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", mnt, err)
		}
	})
	img := imageOf(t, seededLayers(t, 96, 1, 20<<20)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, mnt)
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Fatalf("WriteImage of 20 MiB into a 120 MiB store = %v, want it stored", err)
	}
	if _, err := s.Resolve(testRef); err != nil {
		t.Errorf("Resolve after the pull = %v", err)
	}
}
