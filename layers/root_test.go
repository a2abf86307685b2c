package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestApplyPrivileged covers what only root can do: owners, device nodes, trusted xattrs.
func TestApplyPrivileged(t *testing.T) {
	owned := func(e ent, uid, gid int) ent {
		return e.with(func(h *tar.Header) { h.Uid, h.Gid = uid, gid })
	}
	tests := []struct {
		name     string
		entries  []ent
		requires []testutil.Requirement
		check    func(t *testing.T, root string)
	}{
		{
			name: "owners of every kind of entry",
			entries: []ent{
				owned(dir("home/", 0o755), 1000, 1001),
				owned(file("home/f", "x", 0o644), 1002, 1003),
				owned(symlink("home/l", "/nowhere"), 1004, 1005),
				owned(node("home/p", tar.TypeFifo, 0, 0), 1006, 1007),
			},
			check: func(t *testing.T, root string) {
				wantOwner(t, root, "home", 1000, 1001)
				wantOwner(t, root, "home/f", 1002, 1003)
				wantOwner(t, root, "home/l", 1004, 1005)
				wantOwner(t, root, "home/p", 1006, 1007)
			},
		},
		{
			name: "setuid and setgid survive chown",
			entries: []ent{
				owned(file("su", "x", 0o4755), 0, 0),
				owned(file("sg", "x", 0o2711), 1000, 50),
				owned(dir("sgdir/", 0o2775), 1000, 50),
			},
			check: func(t *testing.T, root string) {
				wantMode(t, root, "su", fs.ModeSetuid|0o755)
				wantMode(t, root, "sg", fs.ModeSetgid|0o711)
				wantOwner(t, root, "sg", 1000, 50)
				wantMode(t, root, "sgdir", fs.ModeDir|fs.ModeSetgid|0o775)
			},
		},
		{
			name:     "character and block devices",
			requires: []testutil.Requirement{testutil.Mknod},
			entries: []ent{
				node("dev/null", tar.TypeChar, 1, 3),
				node("dev/loop0", tar.TypeBlock, 7, 0),
			},
			check: func(t *testing.T, root string) {
				wantDevice(t, root, "dev/null", unix.S_IFCHR, 1, 3)
				wantDevice(t, root, "dev/loop0", unix.S_IFBLK, 7, 0)
				wantMode(t, root, "dev/null", fs.ModeDevice|fs.ModeCharDevice|0o644)
			},
		},
		{
			name: "trusted and security xattrs",
			entries: []ent{
				file("bin/ping", "x", 0o755).with(func(h *tar.Header) {
					// cap_net_raw+ep as VFS_CAP_REVISION_2, the way setcap writes it.
					h.PAXRecords = map[string]string{
						"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
						"SCHILY.xattr.trusted.strata":      "t",
					}
				}),
				symlink("l", "bin/ping").with(func(h *tar.Header) {
					h.PAXRecords = map[string]string{"SCHILY.xattr.trusted.on-link": "yes"}
				}),
			},
			check: func(t *testing.T, root string) {
				wantXattr(t, root, "bin/ping", "trusted.strata", "t")
				if got, err := getXattr(root, "bin/ping", "security.capability"); err != nil || len(got) != 20 {
					t.Errorf("security.capability of bin/ping = %q, %v; want the 20-byte capability", got, err)
				}
				wantXattr(t, root, "l", "trusted.on-link", "yes")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testutil.Requires(t, append([]testutil.Requirement{testutil.Root}, tc.requires...)...)
			j := newJail(t)
			if _, err := Apply(context.Background(), j.root, bytes.NewReader(tarOf(t, tc.entries...)), Options{}); err != nil {
				t.Fatalf("Apply(%s) = %v", tc.name, err)
			}
			j.check(t)
			tc.check(t, j.root)
		})
	}
}

func wantOwner(t *testing.T, root, name string, uid, gid uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, name), &st); err != nil {
		t.Fatalf("Lstat(%q) = %v", name, err)
	}
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("owner of %q = %d:%d, want %d:%d", name, st.Uid, st.Gid, uid, gid)
	}
}

func wantDevice(t *testing.T, root, name string, typ uint32, major, minor uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(root, name), &st); err != nil {
		t.Fatalf("Lstat(%q) = %v", name, err)
	}
	if st.Mode&unix.S_IFMT != typ || unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor {
		t.Errorf("%q: mode %o dev %d:%d, want type %o dev %d:%d", name, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), typ, major, minor)
	}
}

// TestApplyUnprivileged applies layers the way a rootless strata will: without CAP_MKNOD and
// without owners. As root it re-runs itself in a new user namespace, where the namespace's root
// lacks CAP_MKNOD over the host's devices (Linux allows only 0/0 whiteouts there, since 5.8).
func TestApplyUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 && os.Getenv(childEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestApplyUnprivileged$", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child in a user namespace: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("--- PASS: TestApplyUnprivileged")) {
			t.Fatalf("child in a user namespace did not pass:\n%s", out)
		}
		return
	}
	t.Run("device nodes are left out", func(t *testing.T) {
		// As docker and containerd apply a layer in a user namespace, where no device node
		// can be made: an image whose layers hold a /dev still applies, without them. Run by
		// a plain user on the host, no user namespace: the mknod is refused as the next
		// subtest wants, so this one says it is in one.
		defer func(f func() bool) { inUserNS = f }(inUserNS)
		inUserNS = func() bool { return true }
		layer := tarOf(t, file("a", "a", 0o644), node("dev/null", tar.TypeChar, 1, 3),
			node("dev/sda", tar.TypeBlock, 8, 0), node("dev/fifo", tar.TypeFifo, 0, 0),
			node("gone", tar.TypeChar, 0, 0), file("z", "z", 0o644))
		root := t.TempDir()
		if _, err := Apply(context.Background(), root, bytes.NewReader(layer), Options{IgnoreOwners: true}); err != nil {
			t.Fatalf("Apply(device nodes in a user namespace) = %v", err)
		}
		wantNotExist(t, root, "dev/null")
		wantNotExist(t, root, "dev/sda")
		wantMode(t, root, "dev/fifo", fs.ModeNamedPipe|0o644)
		wantWhiteout(t, root, "gone")
		wantFile(t, root, "a", "a", 0o644)
		wantFile(t, root, "z", "z", 0o644)
	})
	t.Run("device node without CAP_MKNOD on the host", func(t *testing.T) {
		defer func(f func() bool) { inUserNS = f }(inUserNS)
		inUserNS = func() bool { return false }
		layer := tarOf(t, node("dev/null", tar.TypeChar, 1, 3))
		_, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(layer), Options{IgnoreOwners: true})
		if !errors.Is(err, unix.EPERM) {
			t.Fatalf("Apply(char device without CAP_MKNOD) = %v, want EPERM", err)
		}
		if !strings.Contains(err.Error(), "dev/null") {
			t.Errorf("Apply(char device without CAP_MKNOD) = %v, want the entry named", err)
		}
	})
	t.Run("user-xattr whiteouts", func(t *testing.T) {
		layer := tarOf(t, file(".wh.gone", "", 0o644), dir("d/", 0o755), file("d/.wh..wh..opq", "", 0o644))
		root := t.TempDir()
		if _, err := Apply(context.Background(), root, bytes.NewReader(layer), Options{IgnoreOwners: true, Whiteouts: WhiteoutUserXattr}); err != nil {
			t.Fatalf("Apply(whiteouts, user-xattr) = %v", err)
		}
		wantWhiteout(t, root, "gone")
		wantXattr(t, root, "d", "user.overlay.opaque", "y")
	})
}

// childEnv marks a test binary re-run by TestApplyUnprivileged.
const childEnv = "STRATA_LAYERS_TEST_CHILD"

// TestApplyLowOnInodes: a layer of nothing but directories takes no content, yet fills a
// filesystem's inode table; MinFreeBytes's reserve stops it. A tmpfs with few inodes stands
// for a full disk.
func TestApplyLowOnInodes(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1g,nr_inodes=20000"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the tmpfs: %v", err)
		}
	})
	// Ten entries, each with a thousand missing parents: 10,000 inodes, half the table.
	var entries []ent
	for i := range 10 {
		entries = append(entries, file(strings.Repeat(string(rune('a'+i))+"/", 1000)+"f", "", 0o644))
	}
	opts := Options{MinFreeBytes: 15000 * bytesPerInode, IgnoreOwners: true}
	_, err := Apply(context.Background(), dir, bytes.NewReader(tarOf(t, entries...)), opts)
	if !errors.Is(err, ErrLowDiskSpace) {
		t.Fatalf("Apply(10,000 directories, 20,000 inodes, reserve 15,000) = %v, want %v", err, ErrLowDiskSpace)
	}
}

// TestApplyDefaultFloorScales: the default free-space floor is 5% of a filesystem smaller
// than 5 GiB (freespace.Floor), so a 20 MiB layer unpacks into a 90 MiB tmpfs (the fixed
// 256 MiB refused every layer of more than 16 MiB there), while a layer that would fill it
// still stops with ErrLowDiskSpace before the disk is full: 89 MiB crosses the 4.5 MiB floor
// between two looks 16 MiB apart, so the interval must shrink with the floor too.
func TestApplyDefaultFloorScales(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	for _, tc := range []struct {
		name    string
		size    int
		wantErr error
	}{{"fits", 20 << 20, nil}, {"fills it", 89 << 20, ErrLowDiskSpace}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=90m"); err != nil {
				t.Skipf("mounting a tmpfs: %v", err)
			}
			t.Cleanup(func() {
				if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
					t.Errorf("unmounting the tmpfs: %v", err)
				}
			})
			layer := tarOf(t, file("big", strings.Repeat("x", tc.size), 0o644))
			_, err := Apply(context.Background(), dir, bytes.NewReader(layer), Options{IgnoreOwners: true})
			if !errors.Is(err, tc.wantErr) && (tc.wantErr != nil || err != nil) {
				t.Fatalf("Apply(%d MiB into a 90 MiB tmpfs) = %v, want %v", tc.size>>20, err, tc.wantErr)
			}
		})
	}
}
