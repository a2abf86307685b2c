package snapshotter

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/testutil"
)

// TestVFSSymlinkReplacedByDir: a lower layer's symlink "etc -> <outside>" and an upper layer's
// real dir etc/: overlay shows the dir, and the vfs copy must not write through the symlink.
func TestVFSSymlinkReplacedByDir(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	s := newPlain(t)
	outside := t.TempDir()
	lower := buildLayer(t, symlink("etc", outside))
	upper := buildLayer(t, dir("etc/"), file("etc/passwd", "root"))
	unpack(t, s, lower)
	unpack(t, s, upper)
	cdir := filepath.Join(t.TempDir(), "c")
	if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{lower.diffID, upper.diffID}, false); err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	wantAbsent(t, filepath.Join(outside, "passwd"))
	fi, err := os.Lstat(filepath.Join(cdir, "rootfs", "etc"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("rootfs/etc = %v, %v, want a directory", fi, err)
	}
	wantContent(t, filepath.Join(cdir, "rootfs", "etc", "passwd"), "root")
}

// TestVFSPrepareTwice: a second Prepare reuses the rootfs, keeping the container's changes.
func TestVFSPrepareTwice(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	unpack(t, s, l)
	cdir := filepath.Join(t.TempDir(), "c")
	for i := range 2 {
		if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, false); err != nil {
			t.Fatalf("Prepare #%d = %v", i, err)
		}
		if i == 0 {
			if err := os.WriteFile(filepath.Join(cdir, "rootfs", "a"), []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantContent(t, filepath.Join(cdir, "rootfs", "a"), "changed")
	wantContent(t, filepath.Join(s.LayerDir(l.diffID), "a"), "a")
}

// TestVFSReadOnlyMountpointsStayInside: a read-only vfs root gets the runtime mount points it
// lacks in its own copy; an image whose /etc leads out of the root (absolutely or up through
// "..") gets them in the tree the link names inside the root, never on the host.
func TestVFSReadOnlyMountpointsStayInside(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	for _, link := range []string{"abs", "rel"} {
		t.Run(link, func(t *testing.T) {
			s := newPlain(t)
			outside := t.TempDir()
			target := outside
			if link == "rel" {
				target = "../../../../../../../../.." + outside
			}
			l := buildLayer(t, symlink("etc", target))
			unpack(t, s, l)
			cdir := filepath.Join(t.TempDir(), "c")
			if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, true); err != nil {
				t.Fatalf("Prepare(read-only) = %v", err)
			}
			for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
				wantAbsent(t, filepath.Join(outside, f))
				if _, err := os.Lstat(filepath.Join(cdir, "rootfs", outside, f)); err != nil {
					t.Errorf("mount point %s inside the root: %v", f, err)
				}
			}
		})
	}
}
