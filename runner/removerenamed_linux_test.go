package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestRemoveRenamedSubtreeError checks that removeRenamed, which removes the subdirectories
// from goroutines of their own, reports one it cannot remove (an immutable file in it; a
// mountpoint, which this test used, is detached now: TestRemoveMountInDir), removes the rest,
// and leaves the dir, lock and all, to a later sweep.
func TestRemoveRenamedSubtreeError(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := filepath.Join(t.TempDir(), removingPrefix+"x")
	for _, d := range []string{"a/b/c", "busy", "e"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f1", "a/b/c/f2", "busy/m", lockFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	immutable := func(on bool) error {
		fd, err := unix.Open(filepath.Join(dir, "busy/m"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		flag := 0
		if on {
			flag = 0x10 // FS_IMMUTABLE_FL, linux/fs.h
		}
		return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, flag)
	}
	if err := immutable(true); err != nil {
		t.Skipf("skipping: making a file immutable: %v", err)
	}
	defer immutable(false)
	err := removeRenamed(dir)
	if !errors.Is(err, unix.EPERM) {
		t.Fatalf("removeRenamed with an immutable file in a subtree = %v, want EPERM", err)
	}
	for _, gone := range []string{"a", "e", "f1"} {
		if _, err := os.Lstat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want it removed", gone, err)
		}
	}
	for _, kept := range []string{lockFile, "busy/m"} {
		if _, err := os.Lstat(filepath.Join(dir, kept)); err != nil {
			t.Errorf("%s: %v, want it kept", kept, err)
		}
	}
	if err := immutable(false); err != nil {
		t.Fatal(err)
	}
	if err := removeRenamed(dir); err != nil {
		t.Fatalf("removeRenamed once unmounted = %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir after removeRenamed: %v, want it gone", err)
	}
}
