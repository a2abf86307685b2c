package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// SmallDisk mounts a tmpfs with opts ("size=8m", "nr_inodes=200") on a new temp dir and
// unmounts it when the test ends: a file system a test can fill. Where tmpfs cannot be
// mounted (not root) the test is skipped, or failed under STRATA_TEST_STRICT=1.
func SmallDisk(t testing.TB, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("strata-test", dir, "tmpfs", 0, opts); err != nil {
		Requires(t, Requirement{Name: "tmpfs mount", Check: func() string { return err.Error() }})
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// FillDisk writes a file in dir until its file system has no block left.
func FillDisk(t testing.TB, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for len(buf) > 0 {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatal(err)
			}
			buf = buf[:len(buf)/2]
		}
	}
}
