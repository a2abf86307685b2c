package snapshotter

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/mount"
)

// testOpaqueRoot: ".wh..wh..opq" at a layer's root hides everything the layers below have
// (image-spec layer.md#opaque-whiteout), whatever the driver. Overlayfs reads the opaque
// xattr only on directories it looks up, never on a lower's root (checked on Linux 6.18), so
// the lowers below such a layer must not be in the mount at all.
func testOpaqueRoot(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	bottom := buildLayer(t, file("x", "x"), dir("d/"), file("d/y", "y"))
	opaque := buildLayer(t, file(".wh..wh..opq", ""), file("new", "new"))
	top := buildLayer(t, file("more", "more"))
	for _, l := range []layer{bottom, opaque, top} {
		unpack(t, s, l)
	}
	for _, readOnly := range []bool{false, true} {
		cdir := filepath.Join(base, "containers", map[bool]string{false: "rw", true: "ro"}[readOnly])
		mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{bottom.diffID, opaque.diffID, top.diffID}, readOnly)
		if err != nil {
			t.Fatalf("Prepare = %v", err)
		}
		rootfs := filepath.Join(cdir, "rootfs")
		mountAll(t, mounts, rootfs)
		wantAbsent(t, filepath.Join(rootfs, "x"))
		wantAbsent(t, filepath.Join(rootfs, "d"))
		wantAbsent(t, filepath.Join(rootfs, ".wh..wh..opq"))
		wantContent(t, filepath.Join(rootfs, "new"), "new")
		wantContent(t, filepath.Join(rootfs, "more"), "more")
	}
}

// testForgedMarkers: a layer cannot make overlay's markers but through the tar's whiteout
// names. Overlay xattrs in its PAX records (opaque, redirect) are dropped, so a directory
// stays merged and a redirect leads nowhere. A 0/0 character device in the tar is what a
// whiteout is in a lowerdir: both drivers read it as one.
func testForgedMarkers(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	bottom := buildLayer(t,
		dir("keep/"), file("keep/z", "z"),
		file("gone", "g"),
		dir("secret/"), file("secret/s", "s"),
	)
	top := buildLayer(t,
		entry{name: "keep/", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.opaque": "y", "user.overlay.opaque": "y"}},
		entry{name: "gone", typ: tar.TypeChar},
		entry{name: "redir/", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.redirect": "/secret", "user.overlay.redirect": "/secret"}},
	)
	unpack(t, s, bottom)
	unpack(t, s, top)
	cdir := filepath.Join(base, "containers", "c")
	mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{bottom.diffID, top.diffID}, false)
	if err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)
	wantContent(t, filepath.Join(rootfs, "keep/z"), "z")
	wantAbsent(t, filepath.Join(rootfs, "gone"))
	wantAbsent(t, filepath.Join(rootfs, "redir/s"))
	wantContent(t, filepath.Join(rootfs, "secret/s"), "s")
}

// TestAddMountpointsOpaqueRoot: the mount points of a read-only container are looked up in
// the view the container gets, where a layer whose root is opaque hides everything below it:
// a directory only such a hidden layer has must still be made.
func TestAddMountpointsOpaqueRoot(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			bottom := buildLayer(t, dir("data/"), dir("data/sub/"))
			opaque := buildLayer(t, file(".wh..wh..opq", ""), file("new", "new"))
			unpack(t, s, bottom)
			unpack(t, s, opaque)
			diffIDs := []v1.Hash{bottom.diffID, opaque.diffID}
			cdir := filepath.Join(base, "containers", "c")
			mounts, err := s.Prepare(t.Context(), cdir, diffIDs, true)
			if err != nil {
				t.Fatal(err)
			}
			user := []mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/data/sub"}}
			if err := s.AddMountpoints(t.Context(), cdir, diffIDs, user); err != nil {
				t.Fatalf("AddMountpoints = %v", err)
			}
			rootfs := filepath.Join(cdir, "rootfs")
			mountAll(t, mounts, rootfs)
			if st, err := os.Lstat(filepath.Join(rootfs, "data/sub")); err != nil || !st.IsDir() {
				t.Errorf("/data/sub: %v, want a directory", err)
			}
			wantContent(t, filepath.Join(rootfs, "new"), "new")
		})
	}
}

// TestPopulateVolumeOpaqueRoot: a VOLUME is filled from the view the container gets, so a
// layer whose root is opaque keeps what it hides out of the volume as well.
func TestPopulateVolumeOpaqueRoot(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			bottom := buildLayer(t, dir("data/"), file("data/hidden", "h"), dir("srv/"), file("srv/old", "o"))
			opaque := buildLayer(t, file(".wh..wh..opq", ""), dir("srv/"), file("srv/new", "n"))
			unpack(t, s, bottom)
			unpack(t, s, opaque)
			diffIDs := []v1.Hash{bottom.diffID, opaque.diffID}
			cdir := filepath.Join(base, "containers", "c")
			if _, err := s.Prepare(t.Context(), cdir, diffIDs, false); err != nil {
				t.Fatal(err)
			}
			vols := filepath.Join(cdir, "volumes")
			for _, v := range []string{"data", "srv"} {
				if err := s.PopulateVolume(t.Context(), cdir, diffIDs, "/"+v, filepath.Join(vols, v)); err != nil {
					t.Fatalf("PopulateVolume(/%s) = %v", v, err)
				}
			}
			wantAbsent(t, filepath.Join(vols, "data/hidden"))
			wantAbsent(t, filepath.Join(vols, "srv/old"))
			wantContent(t, filepath.Join(vols, "srv/new"), "n")
		})
	}
}

// testDuplicateLayers: an image may list one DiffID more than once (identical layers, such as
// the empty layer old docker images repeat). Overlayfs refuses a lowerdir that appears twice
// (ELOOP, "conflicting lowerdir path"), so only the topmost copy goes in: the layers below
// it cannot show anything the topmost copy does not decide.
func testDuplicateLayers(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	a := buildLayer(t, file("a", "a"), dir("d/"), file("d/x", "x"))
	b := buildLayer(t, file("b", "b"), file("d/.wh.x", ""), file("a", "from b"))
	unpack(t, s, a)
	unpack(t, s, b)
	for _, readOnly := range []bool{false, true} {
		cdir := filepath.Join(base, "containers", map[bool]string{false: "rw", true: "ro"}[readOnly])
		mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{a.diffID, b.diffID, a.diffID, a.diffID}, readOnly)
		if err != nil {
			t.Fatalf("Prepare = %v", err)
		}
		rootfs := filepath.Join(cdir, "rootfs")
		mountAll(t, mounts, rootfs)
		wantContent(t, filepath.Join(rootfs, "a"), "a")
		wantContent(t, filepath.Join(rootfs, "b"), "b")
		wantContent(t, filepath.Join(rootfs, "d/x"), "x")
	}
}

// TestPrepareTooManyLayers: overlayfs stacks at most 500 lowerdirs and says why only in dmesg;
// Prepare says it, and counts a repeated layer once. The limit is the kernel's: 500 layers
// mount (checked on Linux 6.18), 501 fail.
func TestPrepareTooManyLayers(t *testing.T) {
	s, base := newTestSnapshotter(t, drivers[0])
	var diffIDs []v1.Hash
	for i := range maxOverlayLayers {
		l := buildLayer(t, file("f", strconv.Itoa(i)))
		unpack(t, s, l)
		diffIDs = append(diffIDs, l.diffID)
	}
	// 500 distinct layers, one repeated: they mount writable, but with the mountpoints layer
	// of a read-only container they are one too many.
	diffIDs = append(diffIDs, diffIDs[0])
	cdir := filepath.Join(base, "containers", "rw")
	mounts, err := s.Prepare(t.Context(), cdir, diffIDs, false)
	if err != nil {
		t.Fatalf("Prepare(%d layers) = %v", maxOverlayLayers, err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)
	wantContent(t, filepath.Join(rootfs, "f"), "0")
	// Its mountinfo line, every lowerdir in it, is over the 64 KiB moby's parser reads: the
	// host's mount table must still read, or every other container's unmount fails meanwhile.
	if _, err := mount.Mounts(nil); err != nil {
		t.Errorf("reading the mount table with a %d-layer overlay mounted = %v", maxOverlayLayers, err)
	}
	if err := mount.UnmountAll(filepath.Join(base, "containers", "none")); err != nil {
		t.Errorf("UnmountAll of another dir with a %d-layer overlay mounted = %v", maxOverlayLayers, err)
	}
	if _, err := s.Prepare(t.Context(), filepath.Join(base, "containers", "ro"), diffIDs, true); !errors.Is(err, ErrTooManyLayers) {
		t.Errorf("Prepare(%d layers, read-only) = %v, want %v", maxOverlayLayers, err, ErrTooManyLayers)
	}
}

// testWhiteoutThenDir: a layer that deletes a directory and makes it again (".wh.d", then
// "d/", or only entries below it) shows only its own d: the whiteout deleted what the layers
// below had there, and the new directory must not let it through again.
func testWhiteoutThenDir(t *testing.T, d driverCase) {
	s, base := newTestSnapshotter(t, d)
	bottom := buildLayer(t, dir("d/"), file("d/old", "old"), dir("e/"), file("e/old", "old"), dir("f/"), file("f/old", "old"))
	top := buildLayer(t,
		file(".wh.d", ""), dir("d/"), file("d/new", "new"),
		dir("e/"), file(".wh.e", ""), dir("e/"), file("e/new", "new"),
		file(".wh.f", ""), file("f/new", "new"), // no "f/": made as a parent
	)
	unpack(t, s, bottom)
	unpack(t, s, top)
	cdir := filepath.Join(base, "containers", "c")
	mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{bottom.diffID, top.diffID}, false)
	if err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	rootfs := filepath.Join(cdir, "rootfs")
	mountAll(t, mounts, rootfs)
	for _, name := range []string{"d", "e", "f"} {
		wantAbsent(t, filepath.Join(rootfs, name, "old"))
		wantContent(t, filepath.Join(rootfs, name, "new"), "new")
	}
}
