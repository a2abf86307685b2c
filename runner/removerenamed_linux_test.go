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
// from goroutines of their own, reports one it cannot remove (a mountpoint in it), removes
// the rest, and leaves the dir, lock and all, to a later sweep.
func TestRemoveRenamedSubtreeError(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := filepath.Join(t.TempDir(), removingPrefix+"x")
	for _, d := range []string{"a/b/c", "busy/m", "e"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"f1", "a/b/c/f2", lockFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mnt := filepath.Join(dir, "busy/m")
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	err := removeRenamed(dir)
	if !errors.Is(err, unix.EBUSY) {
		t.Fatalf("removeRenamed with a mountpoint in a subtree = %v, want EBUSY", err)
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
	if err := unix.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	if err := removeRenamed(dir); err != nil {
		t.Fatalf("removeRenamed once unmounted = %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dir after removeRenamed: %v, want it gone", err)
	}
}
