package snapshotter

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/layers"
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

// vfsOver prepares nothing yet: it returns a vfs snapshotter with one layer of entries
// unpacked, its diffIDs, its layer dir (to plant what a tar cannot hold) and a container dir.
func vfsOver(t *testing.T, entries ...entry) (s *Snapshotter, diffIDs []v1.Hash, layerDir, cdir string) {
	t.Helper()
	s, base := newTestSnapshotter(t, drivers[2])
	l := buildLayer(t, entries...)
	unpack(t, s, l)
	return s, []v1.Hash{l.diffID}, s.LayerDir(l.diffID), filepath.Join(base, "containers", "c1")
}

// wantNoRootfsTmp fails if a copy left its temporary rootfs in cdir.
func wantNoRootfsTmp(t *testing.T, cdir string) {
	t.Helper()
	if m, _ := filepath.Glob(filepath.Join(cdir, rootfsTmpPrefix+"*")); len(m) != 0 {
		t.Errorf("the failed copy left %v", m)
	}
}

// TestVFSPrepareSparse: the vfs copy of a layer's sparse file (layers keeps a tar's sparse
// entries sparse) writes its data, not the zeros of its holes: 256 MiB of apparent size must
// not cost 256 MiB of disk per container.
func TestVFSPrepareSparse(t *testing.T) {
	s, diffIDs, layerDir, cdir := vfsOver(t, dir("data/"))
	const size = 256 << 20
	f, err := os.Create(filepath.Join(layerDir, "data", "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("middle"), size/2); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Truncate(size), f.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(t.Context(), cdir, diffIDs, false); err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	copied := filepath.Join(cdir, "rootfs", "data", "sparse")
	var st unix.Stat_t
	if err := unix.Stat(copied, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 1<<20 {
		t.Errorf("copied sparse file: size %d, %d bytes on disk; want size %d and under 1 MiB on disk", st.Size, st.Blocks*512, size)
	}
	got, err := os.ReadFile(copied)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[:4]) != "head" || string(got[size/2:size/2+6]) != "middle" || strings.Trim(string(got[4:size/2]), "\x00") != "" {
		t.Error("copied sparse file's content differs from the layer's")
	}
}

// TestVFSPrepareCancel: a cancel reaches the vfs copy in the middle of a directory and in the
// middle of a file, not only between layers, and leaves no half rootfs.
func TestVFSPrepareCancel(t *testing.T) {
	entries := []entry{dir("many/")}
	for i := range 50 {
		entries = append(entries, file(fmt.Sprintf("many/f%02d", i), "x"))
	}
	entries = append(entries, dir("big/"))
	s, diffIDs, layerDir, cdir := vfsOver(t, entries...)
	if err := os.WriteFile(filepath.Join(layerDir, "big", "data"), bytes.Repeat([]byte("d"), 3*copyChunk), 0o644); err != nil {
		t.Fatal(err)
	}
	// written reports whether the rootfs being copied holds name with at least size bytes.
	written := func(name string, size int64) func() bool {
		return func() bool {
			m, _ := filepath.Glob(filepath.Join(cdir, rootfsTmpPrefix+"*", name))
			for _, p := range m {
				if st, err := os.Lstat(p); err == nil && st.Size() >= size {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		name string
		fire func() bool
	}{
		{"in a directory", written("many/f00", 0)},
		{"in a file", written("big/data", copyChunk)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := triggerCtx{Context: t.Context(), fire: tc.fire}
			if _, err := s.Prepare(ctx, cdir, diffIDs, false); !errors.Is(err, context.Canceled) {
				t.Errorf("Prepare canceled during the copy = %v, want context.Canceled", err)
			}
			wantNoRootfsTmp(t, cdir)
		})
	}
}

// TestVFSPrepareDiskFloor: the vfs copy keeps the free space Apply keeps
// (Options.Layer.MinFreeBytes): a small image that copies to much more than it weighs cannot
// fill the host's disk.
func TestVFSPrepareDiskFloor(t *testing.T) {
	s, diffIDs, _, cdir := vfsOver(t, dir("data/"), file("data/small", "small"))
	s.layer.MinFreeBytes = 1 << 62 // more than any disk has; set after the unpack
	_, err := s.Prepare(t.Context(), cdir, diffIDs, false)
	if !errors.Is(err, layers.ErrLowDiskSpace) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Prepare under the free space floor = %v, want one line with ErrLowDiskSpace", err)
	}
	wantNoRootfsTmp(t, cdir)
}

// TestVFSDirXattrsAsOverlay: the vfs copy gives every file and directory the xattrs of its
// topmost layer alone, as overlay shows them. It merged an upper layer's directory into the
// lower's copy keeping the lower's xattrs (a user.* value, a default ACL), and the files an
// upper layer put in a directory with a default ACL inherited ACLs no layer gives them.
func TestVFSDirXattrsAsOverlay(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	s := newPlain(t)
	// Version 2: user::rwx, user:1000:r-x, group::r-x, mask::r-x, other::---.
	acl := string([]byte{2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 5, 0, 0xe8, 3, 0, 0,
		4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	lower := buildLayer(t, entry{name: "d/", typ: tar.TypeDir, mode: 0o755, xattrs: map[string]string{"user.k": "lower"}}, file("d/f", "f"),
		entry{name: "a/", typ: tar.TypeDir, mode: 0o750, xattrs: map[string]string{"system.posix_acl_default": acl}})
	upper := buildLayer(t, entry{name: "d/", typ: tar.TypeDir, mode: 0o700, xattrs: map[string]string{"user.other": "upper"}},
		entry{name: "a/", typ: tar.TypeDir, mode: 0o750, xattrs: map[string]string{"system.posix_acl_default": acl}},
		file("a/f", "f"), entry{name: "a/sub/", typ: tar.TypeDir, mode: 0o750})
	unpack(t, s, lower)
	unpack(t, s, upper)
	cdir := filepath.Join(t.TempDir(), "c")
	if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{lower.diffID, upper.diffID}, false); err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	for p, want := range map[string]string{"d": "user.other", "d/f": "", "a": "system.posix_acl_default", "a/f": "", "a/sub": ""} {
		names, err := listXattrs(filepath.Join(rootfs, p))
		if err != nil || strings.Join(names, ",") != want {
			t.Errorf("xattrs of %s = %q, %v, want %q", p, names, err, want)
		}
	}
}
