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
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/layers"
	"github.com/strata-run/strata/mount"
)

// volumeImage is an image whose /srv exercises what a VOLUME's copy must keep: owner and mode
// of the directory, a setuid file with an xattr and a fixed mtime, symlinks (one aimed at the
// host), hard links, a fifo, a device node, and the merged view (a file the top layer whites
// out, a directory it makes opaque, a file it adds). Around it: symlinks leading out of the
// image, to /srv and to the root, a regular file, and a deep tree.
func volumeImage(t *testing.T, outside string, depth int) (bottom, top layer) {
	mtime := time.Unix(1600000000, 0)
	entries := []entry{
		dir("etc/"), file("etc/conf", "conf"),
		{name: "srv/", typ: tar.TypeDir, mode: 0o750, uid: 42, gid: 43},
		{name: "srv/f", body: "setuid", mode: 0o4755, uid: 1, gid: 2, xattrs: map[string]string{"user.strata.test": "v"}, mtime: mtime},
		symlink("srv/link", outside),
		symlink("srv/rel", "../etc/conf"),
		file("srv/h1", "hard"), hardlink("srv/h2", "srv/h1"),
		file("srv/gone", "gone"),
		dir("srv/opq/"), file("srv/opq/old", "old"),
		{name: "srv/fifo", typ: tar.TypeFifo, mode: 0o600},
		{name: "srv/null", typ: tar.TypeChar, mode: 0o666, devmajor: 1, devminor: 3},
		dir("srv/sub/"), file("srv/sub/deep", "deep"),
		symlink("evil", outside),
		symlink("vialink", "/srv"),
		symlink("rootlink", "/"),
		dir("deep/"),
	}
	p := "deep/"
	for range depth {
		p += "d/"
		entries = append(entries, dir(p))
	}
	entries = append(entries, file(p+"bottom", "bottom"))
	bottom = buildLayer(t, entries...)
	top = buildLayer(t,
		entry{name: "srv/", typ: tar.TypeDir, mode: 0o750, uid: 42, gid: 43}, // the topmost copy decides
		file("srv/.wh.gone", ""),
		dir("srv/opq/"), file("srv/opq/.wh..wh..opq", ""), file("srv/opq/new", "new"),
		file("srv/top", "top"),
	)
	return bottom, top
}

// TestPopulateVolume fills volumes from an image's paths, with each driver and a writable and
// a read-only container, and checks the copy entry by entry.
func TestPopulateVolume(t *testing.T) {
	const depth = 300
	for _, d := range drivers {
		for _, readOnly := range []bool{false, true} {
			name := d.name
			if readOnly {
				name += "-readonly"
			}
			t.Run(name, func(t *testing.T) {
				s, base := newTestSnapshotter(t, d)
				outside := filepath.Join(base, "outside")
				if err := os.Mkdir(outside, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
					t.Fatal(err)
				}
				bottom, top := volumeImage(t, outside, depth)
				unpack(t, s, bottom)
				unpack(t, s, top)
				diffIDs := []v1.Hash{bottom.diffID, top.diffID}
				cdir := filepath.Join(base, "containers", "c1")
				if _, err := s.Prepare(t.Context(), cdir, diffIDs, readOnly); err != nil {
					t.Fatal(err)
				}
				vols := filepath.Join(cdir, "volumes")
				targets := []string{"/srv", "/vialink", "/evil", "/missing", "/deep"}
				if readOnly {
					var ms []mount.Mount
					for _, tg := range targets {
						ms = append(ms, mount.Mount{Type: "volume", Target: tg})
					}
					if err := s.AddMountpoints(t.Context(), cdir, diffIDs, ms); err != nil {
						t.Fatal(err)
					}
				}
				for i, tg := range targets {
					dst := filepath.Join(vols, string(rune('a'+i)))
					if err := s.PopulateVolume(t.Context(), cdir, diffIDs, tg, dst); err != nil {
						t.Fatalf("PopulateVolume(%q) = %v", tg, err)
					}
				}
				checkSrvVolume(t, filepath.Join(vols, "a"), s, bottom)
				checkSrvVolume(t, filepath.Join(vols, "b"), s, bottom)
				for _, v := range []string{"c", "d"} {
					// /evil leads to a host path the image lacks: an empty volume, root's.
					p := filepath.Join(vols, v)
					names, err := os.ReadDir(p)
					if err != nil || len(names) != 0 {
						t.Errorf("volume %s = %v, %v; want an empty dir", v, names, err)
					}
					wantStat(t, p, unix.S_IFDIR|0o755, 0, 0)
				}
				if got, err := readFile(t, filepath.Join(vols, "e", strings.Repeat("d/", depth), "bottom")); err != nil || got != "bottom" {
					t.Errorf("deep tree's bottom file = %q, %v; want \"bottom\"", got, err)
				}
				wantContent(t, filepath.Join(outside, "secret"), "host")
				if names, _ := os.ReadDir(outside); len(names) != 1 {
					t.Errorf("outside dir holds %v, want only secret", names)
				}
				leftovers, _ := filepath.Glob(filepath.Join(vols, ".tmp-*"))
				if len(leftovers) > 0 {
					t.Errorf("left behind: %v", leftovers)
				}
			})
		}
	}
}

// checkSrvVolume checks a copy of volumeImage's /srv.
func checkSrvVolume(t *testing.T, v string, s *Snapshotter, bottom layer) {
	t.Helper()
	wantStat(t, v, unix.S_IFDIR|0o750, 42, 43)
	wantContent(t, filepath.Join(v, "f"), "setuid")
	wantStat(t, filepath.Join(v, "f"), unix.S_IFREG|0o4755, 1, 2)
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(v, "f"), &st); err == nil && st.Mtim.Sec != 1600000000 {
		t.Errorf("f mtime = %d, want 1600000000", st.Mtim.Sec)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(v, "f"), "user.strata.test", buf); err != nil || string(buf[:n]) != "v" {
		t.Errorf("f xattr user.strata.test = %q, %v; want \"v\"", buf[:max(n, 0)], err)
	}
	for name, want := range map[string]string{"link": filepath.Join(filepath.Dir(s.Root()), "outside"), "rel": "../etc/conf"} {
		if got, err := os.Readlink(filepath.Join(v, name)); err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", name, got, err, want)
		}
	}
	var h1, h2, layerH1 unix.Stat_t
	if err := errors.Join(unix.Lstat(filepath.Join(v, "h1"), &h1), unix.Lstat(filepath.Join(v, "h2"), &h2),
		unix.Lstat(filepath.Join(s.LayerDir(bottom.diffID), "srv", "h1"), &layerH1)); err != nil {
		t.Fatal(err)
	}
	if h1.Ino != h2.Ino || h1.Nlink != 2 {
		t.Errorf("h1 and h2: inodes %d and %d, %d links; want one inode with 2 links", h1.Ino, h2.Ino, h1.Nlink)
	}
	if h1.Dev == layerH1.Dev && h1.Ino == layerH1.Ino {
		t.Error("h1 is the layer's own file: a write through the volume would change the layer")
	}
	wantContent(t, filepath.Join(v, "h2"), "hard")
	wantAbsent(t, filepath.Join(v, "gone"))
	wantAbsent(t, filepath.Join(v, "opq", "old"))
	wantContent(t, filepath.Join(v, "opq", "new"), "new")
	wantContent(t, filepath.Join(v, "top"), "top")
	wantContent(t, filepath.Join(v, "sub", "deep"), "deep")
	wantStat(t, filepath.Join(v, "fifo"), unix.S_IFIFO|0o600, 0, 0)
	wantStat(t, filepath.Join(v, "null"), unix.S_IFCHR|0o666, 0, 0)
	if err := unix.Lstat(filepath.Join(v, "null"), &st); err == nil && st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("null rdev = %#x, want 1:3", st.Rdev)
	}
}

// wantStat checks a path's type, mode, owner and group, without following a symlink.
func wantStat(t *testing.T, p string, mode uint32, uid, gid uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Errorf("lstat %s: %v", p, err)
		return
	}
	if st.Mode != mode || st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: mode %#o owner %d:%d, want mode %#o owner %d:%d", p, st.Mode, st.Uid, st.Gid, mode, uid, gid)
	}
}

// TestPopulateVolumeRefuses: a path the image holds as a file, or that leads to the image's
// root, gets no volume; a copy interrupted leaves nothing.
func TestPopulateVolumeRefuses(t *testing.T) {
	d := drivers[0]
	s, base := newTestSnapshotter(t, d)
	bottom, top := volumeImage(t, filepath.Join(base, "outside"), 1)
	unpack(t, s, bottom)
	unpack(t, s, top)
	diffIDs := []v1.Hash{bottom.diffID, top.diffID}
	cdir := filepath.Join(base, "containers", "c1")
	if _, err := s.Prepare(t.Context(), cdir, diffIDs, false); err != nil {
		t.Fatal(err)
	}
	vols := filepath.Join(cdir, "volumes")
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		ctx    context.Context
		target string
		want   string
	}{
		{t.Context(), "/etc/conf", "cannot mount volume over existing file"},
		{t.Context(), "/rootlink", "leads to the image's root"},
		{t.Context(), "/srv/../rootlink/..", "leads to the image's root"},
		{canceled, "/srv", context.Canceled.Error()},
	} {
		dst := filepath.Join(vols, "x")
		err := s.PopulateVolume(tc.ctx, cdir, diffIDs, tc.target, dst)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("PopulateVolume(%q) = %v, want one line with %q", tc.target, err, tc.want)
		}
		if names, _ := os.ReadDir(vols); len(names) != 0 {
			t.Errorf("PopulateVolume(%q) left %v", tc.target, names)
		}
	}
	if err := s.PopulateVolume(t.Context(), cdir, diffIDs, "/etc/conf", filepath.Join(vols, "x")); !errors.Is(err, ErrVolumeOverFile) {
		t.Errorf("PopulateVolume(/etc/conf) = %v, want ErrVolumeOverFile", err)
	}
}

// triggerCtx is a context whose Err turns to context.Canceled once fire reports true: a
// cancellation that lands at a chosen point of a copy, with no timing involved.
type triggerCtx struct {
	context.Context
	fire func() bool
}

func (c triggerCtx) Err() error {
	if c.fire() {
		return context.Canceled
	}
	return c.Context.Err()
}

// hostileVolume prepares a container over one layer made of entries and returns what
// PopulateVolume needs, the layer dir to plant what a tar cannot hold, and the volumes dir.
func hostileVolume(t *testing.T, entries ...entry) (s *Snapshotter, cdir string, diffIDs []v1.Hash, layerDir, vols string) {
	t.Helper()
	s, base := newTestSnapshotter(t, drivers[0])
	l := buildLayer(t, entries...)
	unpack(t, s, l)
	diffIDs = []v1.Hash{l.diffID}
	cdir = filepath.Join(base, "containers", "c1")
	if _, err := s.Prepare(t.Context(), cdir, diffIDs, false); err != nil {
		t.Fatal(err)
	}
	return s, cdir, diffIDs, s.LayerDir(l.diffID), filepath.Join(cdir, "volumes")
}

// TestPopulateVolumeSparse: a file that is mostly hole in the layer dir (layers keeps a tar's
// sparse entries sparse) is copied as its data, not as the zeros of its holes: 256 MiB of
// apparent size must not cost 256 MiB of disk per volume.
func TestPopulateVolumeSparse(t *testing.T) {
	s, cdir, diffIDs, layerDir, vols := hostileVolume(t, dir("data/"))
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
	dst := filepath.Join(vols, "0")
	if err := s.PopulateVolume(t.Context(), cdir, diffIDs, "/data", dst); err != nil {
		t.Fatalf("PopulateVolume(/data) = %v", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dst, "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > 1<<20 {
		t.Errorf("copied sparse file: size %d, %d bytes on disk; want size %d and under 1 MiB on disk", st.Size, st.Blocks*512, size)
	}
	got, err := os.ReadFile(filepath.Join(dst, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got[:4]) != "head" || string(got[size/2:size/2+6]) != "middle" || strings.Trim(string(got[4:size/2]), "\x00") != "" {
		t.Error("copied sparse file's content differs from the layer's")
	}
}

// TestPopulateVolumeCancel: a cancel reaches the copy in the middle of a directory and in
// the middle of a file, not only between directories, and leaves no half volume.
func TestPopulateVolumeCancel(t *testing.T) {
	entries := []entry{dir("many/")}
	for i := range 50 {
		entries = append(entries, file(fmt.Sprintf("many/f%02d", i), "x"))
	}
	entries = append(entries, dir("big/"))
	s, cdir, diffIDs, layerDir, vols := hostileVolume(t, entries...)
	if err := os.WriteFile(filepath.Join(layerDir, "big", "data"), bytes.Repeat([]byte("d"), 3*copyChunk), 0o644); err != nil {
		t.Fatal(err)
	}
	// written reports whether the volume being made holds name with at least size bytes.
	written := func(name string, size int64) func() bool {
		return func() bool {
			m, _ := filepath.Glob(filepath.Join(vols, ".tmp-*", name))
			for _, p := range m {
				if st, err := os.Lstat(p); err == nil && st.Size() >= size {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		target string
		fire   func() bool
	}{
		{"/many", written("f00", 0)},
		{"/big", written("data", copyChunk)},
	} {
		ctx := triggerCtx{Context: t.Context(), fire: tc.fire}
		err := s.PopulateVolume(ctx, cdir, diffIDs, tc.target, filepath.Join(vols, "0"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("PopulateVolume(%s) canceled during the copy = %v, want context.Canceled", tc.target, err)
		}
		if names, _ := os.ReadDir(vols); len(names) != 0 {
			t.Errorf("PopulateVolume(%s) canceled left %v", tc.target, names)
		}
	}
}

// TestPopulateVolumeDiskFloor: the copy keeps the free space Apply keeps on the layer dir's
// filesystem (Options.Layer.MinFreeBytes), so VOLUMEs that copy a tree many times (one per
// symlink to it) cannot fill the host's disk; and a copy that runs out of space (ENOSPC) in
// the middle leaves nothing.
func TestPopulateVolumeDiskFloor(t *testing.T) {
	entries := []entry{dir("data/"), file("data/small", "small")}
	for i := range 20 {
		entries = append(entries, symlink(fmt.Sprintf("l%d", i), "/data"))
	}
	s, cdir, diffIDs, layerDir, vols := hostileVolume(t, entries...)
	if err := os.WriteFile(filepath.Join(layerDir, "data", "big"), bytes.Repeat([]byte("b"), 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	s.layer.MinFreeBytes = 1 << 62 // more than any disk has
	err := s.PopulateVolume(t.Context(), cdir, diffIDs, "/l3", filepath.Join(vols, "0"))
	if !errors.Is(err, layers.ErrLowDiskSpace) || strings.Contains(err.Error(), "\n") {
		t.Errorf("PopulateVolume(/l3) under the free space floor = %v, want one line with ErrLowDiskSpace", err)
	}
	if names, _ := os.ReadDir(vols); len(names) != 0 {
		t.Errorf("PopulateVolume(/l3) under the floor left %v", names)
	}

	// ENOSPC itself: the volume's filesystem is a 1 MiB tmpfs, the floor disabled.
	s.layer.MinFreeBytes = -1
	if err := os.MkdirAll(vols, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", vols, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(vols, unix.MNT_DETACH) })
	err = s.PopulateVolume(t.Context(), cdir, diffIDs, "/data", filepath.Join(vols, "0"))
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("PopulateVolume(/data) on a full filesystem = %v, want ENOSPC", err)
	}
	if names, _ := os.ReadDir(vols); len(names) != 0 {
		t.Errorf("PopulateVolume(/data) out of space left %v", names)
	}
}
