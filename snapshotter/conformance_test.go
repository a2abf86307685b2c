package snapshotter

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// The conformance suite runs every case against every driver: whatever the driver, the
// container must see the same merged tree (containerd core/snapshots/testsuite does the same
// for its snapshotters).
func TestConformance(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, d driverCase)
	}{
		{"MergedView", testMergedView},
		{"ReadOnly", testReadOnly},
		{"ManyLayers", testManyLayers},
		{"NoLayers", testNoLayers},
		{"Replacements", testReplacements},
		{"Metadata", testMetadata},
		{"OpaqueRoot", testOpaqueRoot},
		{"ForgedMarkers", testForgedMarkers},
		{"DuplicateLayers", testDuplicateLayers},
		{"WhiteoutThenDir", testWhiteoutThenDir},
	}
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, d) })
			}
		})
	}
}

// baseAndTop are two layers: the top one deletes a file with a whiteout, makes opt/ opaque,
// adds a file, and replaces a file of the base.
func baseAndTop(t *testing.T) (base, top layer) {
	base = buildLayer(t,
		dir("etc/"), file("etc/passwd", "root:x:0:0"), file("etc/gone", "x"), file("etc/motd", "old"),
		dir("opt/"), file("opt/old", "old"), dir("opt/sub/"), file("opt/sub/deep", "deep"),
		dir("bin/"), file("bin/sh", "#!"), hardlink("bin/ash", "bin/sh"),
	)
	top = buildLayer(t,
		dir("etc/"), file("etc/.wh.gone", ""), file("etc/motd", "new"),
		dir("opt/"), file("opt/.wh..wh..opq", ""), file("opt/new", "new"),
	)
	return base, top
}

func testMergedView(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	lower, upper := baseAndTop(t)
	unpack(t, s, lower)
	unpack(t, s, upper)

	cdir := filepath.Join(base, "containers", "c1")
	mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{lower.diffID, upper.diffID}, false)
	if err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)

	wantContent(t, filepath.Join(rootfs, "etc/passwd"), "root:x:0:0") // from the base
	wantContent(t, filepath.Join(rootfs, "etc/motd"), "new")          // replaced by the top
	wantAbsent(t, filepath.Join(rootfs, "etc/gone"))                  // whiteout
	wantAbsent(t, filepath.Join(rootfs, "etc/.wh.gone"))
	wantAbsent(t, filepath.Join(rootfs, "opt/old")) // opaque dir hides the base's content
	wantAbsent(t, filepath.Join(rootfs, "opt/sub"))
	wantContent(t, filepath.Join(rootfs, "opt/new"), "new")
	wantAbsent(t, filepath.Join(rootfs, "opt/.wh..wh..opq"))
	var sh, ash unix.Stat_t
	if err := unix.Stat(filepath.Join(rootfs, "bin/sh"), &sh); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(rootfs, "bin/ash"), &ash); err != nil {
		t.Fatal(err)
	}
	if sh.Ino != ash.Ino {
		t.Errorf("bin/ash and bin/sh are inodes %d and %d, want one hard-linked inode", ash.Ino, sh.Ino)
	}

	// Writes and deletions go to the container, never to the shared layer dirs.
	if err := os.WriteFile(filepath.Join(rootfs, "written"), []byte("w"), 0o644); err != nil {
		t.Fatalf("writing in the rootfs: %v", err)
	}
	if err := os.Remove(filepath.Join(rootfs, "etc/passwd")); err != nil {
		t.Fatalf("deleting in the rootfs: %v", err)
	}
	wantContent(t, filepath.Join(s.LayerDir(lower.diffID), "etc/passwd"), "root:x:0:0")
	wantAbsent(t, filepath.Join(s.LayerDir(upper.diffID), "written"))
	if d.driver == Overlay {
		wantContent(t, filepath.Join(cdir, "upper", "written"), "w")
	}

	if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil {
		t.Fatalf("unmounting rootfs: %v", err)
	}
	// Leave one mount behind on purpose: Remove must unmount it before deleting.
	mountAll(t, mounts, rootfs)
	if err := s.Remove(t.Context(), cdir); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	if m := mountsUnder(t, cdir); len(m) > 0 {
		t.Errorf("mounts left under %s after Remove: %q", cdir, m)
	}
	for _, name := range []string{"upper", "work", "rootfs"} {
		wantAbsent(t, filepath.Join(cdir, name))
	}
	if _, err := os.Stat(cdir); err != nil {
		t.Errorf("Remove deleted the container dir itself: %v", err)
	}
	wantContent(t, filepath.Join(s.LayerDir(lower.diffID), "etc/passwd"), "root:x:0:0")
}

func testReadOnly(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	lower, upper := baseAndTop(t)
	unpack(t, s, lower)
	unpack(t, s, upper)
	for _, tt := range []struct {
		name    string
		diffIDs []v1.Hash
		file    string
	}{
		{"one layer", []v1.Hash{lower.diffID}, "etc/motd"},
		{"two layers", []v1.Hash{lower.diffID, upper.diffID}, "opt/new"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cdir := filepath.Join(base, "containers", tt.name)
			mounts, err := s.Prepare(t.Context(), cdir, tt.diffIDs, true)
			if err != nil {
				t.Fatalf("Prepare(readOnly) = %v", err)
			}
			rootfs := filepath.Join(cdir, "rootfs")
			mountAll(t, mounts, rootfs)
			if _, err := readFile(t, filepath.Join(rootfs, tt.file)); err != nil {
				t.Errorf("reading %s: %v", tt.file, err)
			}
			err = os.WriteFile(filepath.Join(rootfs, "written"), []byte("w"), 0o644)
			if !errors.Is(err, unix.EROFS) {
				t.Errorf("writing in a read-only rootfs = %v, want EROFS", err)
			}
			if d.driver == Overlay {
				wantAbsent(t, filepath.Join(cdir, "upper"))
			}
			if err := s.Remove(t.Context(), cdir); err != nil {
				t.Fatalf("Remove = %v", err)
			}
			if m := mountsUnder(t, cdir); len(m) > 0 {
				t.Errorf("mounts left under %s after Remove: %q", cdir, m)
			}
		})
	}
}

// testManyLayers proves images over 128 layers mount: their lowerdir option exceeds a page.
func testManyLayers(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	const n = 130
	var diffIDs []v1.Hash
	for i := range n {
		l := buildLayer(t, file("f"+strconv.Itoa(i), strconv.Itoa(i)), file("which", strconv.Itoa(i)))
		unpack(t, s, l)
		diffIDs = append(diffIDs, l.diffID)
	}
	cdir := filepath.Join(base, "containers", "many")
	mounts, err := s.Prepare(t.Context(), cdir, diffIDs, false)
	if err != nil {
		t.Fatalf("Prepare(%d layers) = %v", n, err)
	}
	if d.driver == Overlay && len(mounts[0].Options[0]) <= os.Getpagesize() {
		t.Fatalf("lowerdir option is %d bytes, want more than a page for this test to mean anything", len(mounts[0].Options[0]))
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)
	wantContent(t, filepath.Join(rootfs, "f0"), "0")                                  // bottom
	wantContent(t, filepath.Join(rootfs, fmt.Sprintf("f%d", n-1)), strconv.Itoa(n-1)) // top
	wantContent(t, filepath.Join(rootfs, "which"), strconv.Itoa(n-1))                 // top wins
	if err := s.Remove(t.Context(), cdir); err != nil {
		t.Fatalf("Remove = %v", err)
	}
}

// testNoLayers: an image without layers (FROM scratch and nothing added) still gets a root.
func testNoLayers(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	cdir := filepath.Join(base, "containers", "scratch")
	mounts, err := s.Prepare(t.Context(), cdir, nil, false)
	if err != nil {
		t.Fatalf("Prepare(no layers) = %v", err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)
	if err := os.WriteFile(filepath.Join(rootfs, "written"), []byte("w"), 0o644); err != nil {
		t.Errorf("writing in an empty rootfs: %v", err)
	}
	if err := s.Remove(t.Context(), cdir); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	wantAbsent(t, filepath.Join(cdir, "empty"))
}

// testReplacements pins overlay's rules where an upper entry meets a lower one of another
// type; the vfs copy must give the same view.
func testReplacements(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	lower := buildLayer(t,
		dir("dir-to-file/"), file("dir-to-file/x", "x"),
		file("file-to-dir", "f"),
		dir("whited-dir/"), file("whited-dir/x", "x"),
		symlink("link-to-file", "/etc"),
		dir("keep/"), file("keep/lower", "l"),
		entry{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
	)
	upper := buildLayer(t,
		file("dir-to-file", "now a file"),
		dir("file-to-dir/"), file("file-to-dir/y", "y"),
		file(".wh.whited-dir", ""),
		file("link-to-file", "now a file"),
		dir("keep/"), file("keep/upper", "u"),
	)
	unpack(t, s, lower)
	unpack(t, s, upper)
	cdir := filepath.Join(base, "containers", "c")
	mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{lower.diffID, upper.diffID}, false)
	if err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)

	wantContent(t, filepath.Join(rootfs, "dir-to-file"), "now a file")
	wantContent(t, filepath.Join(rootfs, "file-to-dir/y"), "y")
	wantAbsent(t, filepath.Join(rootfs, "whited-dir"))
	wantContent(t, filepath.Join(rootfs, "link-to-file"), "now a file")
	wantContent(t, filepath.Join(rootfs, "keep/lower"), "l") // dirs merge
	wantContent(t, filepath.Join(rootfs, "keep/upper"), "u")
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(rootfs, "link-to-file"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("link-to-file mode %o, %v, want a regular file", st.Mode, err)
	}
	if err := unix.Lstat(filepath.Join(rootfs, "fifo"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo mode %o, %v, want a fifo", st.Mode, err)
	}
}

// testMetadata: owners, modes (setuid survives the chown), xattrs and mtimes reach the
// container as the layer has them.
func testMetadata(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	l := buildLayer(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o750, uid: 0, gid: 10, mtime: mtime},
		entry{name: "suid", body: "#!", mode: 0o4755, uid: 0, gid: 0, mtime: mtime},
		entry{name: "owned", body: "o", mode: 0o640, uid: 1000, gid: 2000, mtime: mtime},
		entry{name: "xattr", body: "x", mode: 0o644, xattrs: map[string]string{"user.strata.test": "v"}, mtime: mtime},
		entry{name: "d/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1000, mtime: mtime},
	)
	unpack(t, s, l)
	cdir := filepath.Join(base, "containers", "c")
	mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, false)
	if err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)

	for _, tt := range []struct {
		name     string
		mode     uint32
		uid, gid uint32
	}{
		{"suid", unix.S_IFREG | 0o4755, 0, 0},
		{"owned", unix.S_IFREG | 0o640, 1000, 2000},
		{"d", unix.S_IFDIR | 0o700, 1000, 1000},
		{".", unix.S_IFDIR | 0o750, 0, 10}, // the container's "/" is the image's
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(rootfs, tt.name), &st); err != nil {
			t.Errorf("lstat %s: %v", tt.name, err)
			continue
		}
		if st.Mode != tt.mode || st.Uid != tt.uid || st.Gid != tt.gid {
			t.Errorf("%s: mode %o uid %d gid %d, want mode %o uid %d gid %d", tt.name, st.Mode, st.Uid, st.Gid, tt.mode, tt.uid, tt.gid)
		}
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", tt.name, got, mtime)
		}
	}
	buf := make([]byte, 16)
	n, err := unix.Lgetxattr(filepath.Join(rootfs, "xattr"), "user.strata.test", buf)
	if err != nil {
		t.Errorf("reading xattr user.strata.test: %v", err)
	} else if string(buf[:n]) != "v" {
		t.Errorf("xattr user.strata.test = %q, want \"v\"", buf[:n])
	}
}
