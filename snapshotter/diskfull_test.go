package snapshotter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/layers"
	"golang.org/x/sys/unix"
)

// TestUnpackDiskFull unpacks layers bigger than their filesystem, a small tmpfs: out of bytes
// and out of inodes, with the free-space floor off (the write itself fails with ENOSPC) and
// on (ErrLowDiskSpace first). Each fails, leaves no layer dir and no temporary dir, gives
// the space back, and the next layer that fits unpacks. A file system that fills up mid-way
// must never show a half layer under its DiffID.
func TestUnpackDiskFull(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	big := buildLayer(t, file("big", strings.Repeat("0123456789abcdef", 1<<20))) // 16 MiB
	var many []entry
	for i := range 4000 {
		many = append(many, file(fmt.Sprintf("d/f%d", i), ""))
	}
	manyFiles := buildLayer(t, many...)
	small := buildLayer(t, file("small", "s"))
	tests := []struct {
		name     string
		layer    layer
		minFree  int64
		wantErrs []error
	}{
		{"bytes, no floor", big, -1, []error{unix.ENOSPC}},
		{"bytes, default floor", big, 0, []error{layers.ErrLowDiskSpace}},
		{"bytes, small floor", big, 1 << 20, []error{layers.ErrLowDiskSpace, unix.ENOSPC}},
		{"inodes, no floor", manyFiles, -1, []error{unix.ENOSPC}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mnt := t.TempDir()
			if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m,nr_inodes=1000,mode=0700"); err != nil {
				t.Skipf("mounting a tmpfs: %v", err)
			}
			t.Cleanup(func() {
				if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
					t.Errorf("unmounting %s: %v", mnt, err)
				}
			})
			s, err := New(filepath.Join(mnt, "snapshots"), Options{Driver: VFS, Layer: layers.Options{MinFreeBytes: tc.minFree}})
			if err != nil {
				t.Fatal(err)
			}
			var before unix.Statfs_t
			if err := unix.Statfs(mnt, &before); err != nil {
				t.Fatal(err)
			}
			err = s.Unpack(t.Context(), tc.layer.diffID, gzipLayer, bytes.NewReader(tc.layer.gz))
			matched := false
			for _, want := range tc.wantErrs {
				matched = matched || errors.Is(err, want)
			}
			if !matched {
				t.Fatalf("Unpack(%s) = %v, want one of %v", tc.name, err, tc.wantErrs)
			}
			if s.Has(tc.layer.diffID) {
				t.Errorf("Has = true after a failed Unpack")
			}
			if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
				t.Errorf("temporary dirs after a failed Unpack: %q", tmps)
			}
			var after unix.Statfs_t
			if err := unix.Statfs(mnt, &after); err != nil {
				t.Fatal(err)
			}
			// The DiffID's lock file stays until Prune: one inode.
			if after.Bfree < before.Bfree || after.Ffree+1 < before.Ffree {
				t.Errorf("free after the failed Unpack: %d blocks, %d inodes; want %d, %d as before", after.Bfree, after.Ffree, before.Bfree, before.Ffree-1)
			}
			// The next layer, on a floor that this small filesystem leaves room for.
			s, err = New(filepath.Join(mnt, "snapshots"), Options{Driver: VFS, Layer: layers.Options{MinFreeBytes: 1 << 20}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Unpack(t.Context(), small.diffID, gzipLayer, bytes.NewReader(small.gz)); err != nil {
				t.Fatalf("Unpack(small, after %s) = %v", tc.name, err)
			}
			wantContent(t, filepath.Join(s.LayerDir(small.diffID), "small"), "s")
			if _, err := os.Stat(filepath.Join(s.Root(), locksDir)); err != nil {
				t.Errorf("lock dir: %v", err)
			}
		})
	}
}

// TestVFSPrepareDiskFull: the vfs copy of an image that does not fit the container dir's
// filesystem fails with ENOSPC and leaves no partial rootfs that a second Prepare would take
// for complete.
func TestVFSPrepareDiskFull(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	s, err := New(filepath.Join(t.TempDir(), "snapshots"), Options{Driver: VFS, Layer: layers.Options{MinFreeBytes: -1}})
	if err != nil {
		t.Fatal(err)
	}
	l := buildLayer(t, file("a", "a"), file("big", strings.Repeat("0123456789abcdef", 1<<20)))
	unpack(t, s, l)
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", mnt, err)
		}
	})
	cdir := filepath.Join(mnt, "c")
	for range 2 {
		if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, false); !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("Prepare(16 MiB image on 8 MiB) = %v, want ENOSPC", err)
		}
		names, err := os.ReadDir(filepath.Join(cdir, rootfsDir))
		if err != nil || len(names) > 0 {
			t.Errorf("rootfs after a failed copy = %v, %v; want it empty", names, err)
		}
		if tmps, _ := filepath.Glob(filepath.Join(cdir, rootfsTmpPrefix+"*")); len(tmps) > 0 {
			t.Errorf("partial copies left: %q", tmps)
		}
	}
}
