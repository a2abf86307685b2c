package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// checkFailedCleanly fails the test unless r is a failure of one line on stderr that says
// the disk is full, with no panic or Go stack.
func checkFailedCleanly(t *testing.T, what string, r result) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	last := lines[len(lines)-1]
	full := strings.Contains(last, "no space left on device") || strings.Contains(last, "not enough free")
	if r.Code == 0 || !full || strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic") {
		t.Errorf("%s on a full disk: exit %d, stderr %q; want a failure whose last line says the disk is full", what, r.Code, r.Stderr)
	}
}

// TestPullFullDisk: a pull into a store on a disk too small for the image, with the layer's
// blob or its unpacked files, or with no room left at all, fails in a line that says the disk is
// full; nothing half-written is in the store; images still works; once there is room the next
// pull completes and verifies; and on a disk that other writes filled, rmi, which frees it,
// still works (it could not write index.json).
func TestPullFullDisk(t *testing.T) {
	t.Parallel()
	testutil.Requires(t, testutil.Root)
	f := startFront(t, frontAuth{}, nil)
	env := testEnv(t.TempDir())
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion
	for _, tt := range []struct {
		name, opts string
		noUnpack   bool
	}{
		{"blob does not fit", "size=1m", true},
		{"layer does not fit", "size=5m", false},
		{"no inodes for the layer", "size=64m,nr_inodes=100", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			disk := testutil.SmallDisk(t, tt.opts)
			root := filepath.Join(disk, "root")
			args := []string{"pull", ref}
			if tt.noUnpack {
				args = []string{"pull", "--no-unpack", ref}
			}
			checkFailedCleanly(t, "pull", run(t, env, "", root, args...))
			checkStoreComplete(t, root)
			if r := run(t, env, "", root, "images", "-q"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "" {
				t.Errorf("images after the failed pull: exit %d, stdout %q, stderr %q; want no image", r.Code, r.Stdout, r.Stderr)
			}
			if err := syscall.Mount("strata-enospc", disk, "tmpfs", syscall.MS_REMOUNT, "size=64m,nr_inodes=10000"); err != nil {
				t.Fatalf("growing the tmpfs: %v", err)
			}
			mustRun(t, env, "", root, args...)
			checkStoreComplete(t, root)
			if r := mustRun(t, env, "", root, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(r.Stdout, ref) {
				t.Errorf("images after the pull = %q, want %s", r.Stdout, ref)
			}
			// Another tag of the same image needs index.json to grow: refused on a full disk,
			// cleanly; removing the image, which frees the disk, is not.
			testutil.FillDisk(t, disk)
			checkFailedCleanly(t, "tag", run(t, env, "", root, "tag", ref, "other:1"))
			if r := run(t, env, "", root, "rmi", ref); r.Code != 0 {
				t.Fatalf("rmi on a full disk: exit %d, stderr %q", r.Code, r.Stderr)
			}
			if r := mustRun(t, env, "", root, "images", "-q"); strings.TrimSpace(r.Stdout) != "" {
				t.Errorf("images after rmi = %q, want none", r.Stdout)
			}
			if err := os.Remove(filepath.Join(disk, "fill")); err != nil {
				t.Fatal(err)
			}
			mustRun(t, env, "", root, args...)
			checkStoreComplete(t, root)
		})
	}
}

// TestPullReadOnlyStore: a store on a read-only file system is read (images, an up-to-date
// pull), and a pull that would write to it fails in one line that says so.
func TestPullReadOnlyStore(t *testing.T) {
	t.Parallel()
	testutil.Requires(t, testutil.Root)
	f := startFront(t, frontAuth{}, nil)
	env := testEnv(t.TempDir())
	ref := f.Host + "/library/alpine:" + testimages.AlpineVersion
	disk := testutil.SmallDisk(t, "size=64m")
	root := filepath.Join(disk, "root")
	mustRun(t, env, "", root, "pull", ref)
	mustRun(t, env, "", root, "images")
	if err := syscall.Mount("strata-enospc", disk, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remounting read-only: %v", err)
	}
	if r := mustRun(t, env, "", root, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(r.Stdout, ref) {
		t.Errorf("images on the read-only store = %q, want %s", r.Stdout, ref)
	}
	if r := mustRun(t, env, "", root, "pull", ref); !strings.Contains(r.Stdout, "Image is up to date") {
		t.Errorf("pull of a stored image on the read-only store = %q, want up to date", r.Stdout)
	}
	other := f.Host + "/library/alpine:3.19"
	r := run(t, env, "", root, "pull", other)
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if r.Code == 0 || !strings.Contains(lines[len(lines)-1], "read-only file system") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("pull %s into the read-only store: exit %d, stderr %q; want one line saying it is read-only", other, r.Code, r.Stderr)
	}
}
