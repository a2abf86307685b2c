package snapshotter

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestNewReadOnlyRootOpenToOthers: a snapshots dir open to others that strata cannot tighten
// (a store on read-only media) is used as it is: New failed on it, which stopped every command
// on a store that worked before the tightening.
func TestNewReadOnlyRootOpenToOthers(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	root := filepath.Join(t.TempDir(), "snapshots")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	// A store used before it was made read-only has what New makes.
	if _, err := New(root, Options{Driver: VFS}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(root, root, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(root, unix.MNT_DETACH) })
	if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	if _, err := New(root, Options{Driver: VFS}); err != nil {
		t.Fatalf("New on a read-only snapshots dir open to others = %v, want it used as it is", err)
	}
}
