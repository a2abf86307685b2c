package snapshotter

import (
	"archive/tar"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
