package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestMayHoldMounts(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if mayHoldMounts(rootfs) {
		t.Errorf("missing rootfs may hold mounts")
	}
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if mayHoldMounts(rootfs) {
		t.Errorf("empty rootfs may hold mounts")
	}
	if err := os.Mkdir(filepath.Join(rootfs, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !mayHoldMounts(rootfs) {
		t.Errorf("rootfs with a subdir may not hold mounts")
	}
	if err := os.Remove(filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	testutil.Requires(t, testutil.Root)
	if err := unix.Mount("tmpfs", rootfs, "tmpfs", 0, ""); err != nil {
		t.Skipf("skipping: mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(rootfs, unix.MNT_DETACH) })
	if !mayHoldMounts(rootfs) {
		t.Errorf("mounted rootfs may not hold mounts")
	}
}
