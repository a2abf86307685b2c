package snapshotter

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/layers"
	"github.com/strata-run/strata/mount"
)

// TestPrepareOverlayMounts checks the overlay mounts as data, without mounting (no root):
// lowerdir is top first while diffIDs are bottom first.
func TestPrepareOverlayMounts(t *testing.T) {
	root := t.TempDir()
	bottom, top := hashOf("bottom"), hashOf("top")
	for _, d := range []v1.Hash{bottom, top} {
		if err := os.Mkdir(filepath.Join(root, d.Hex), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lb, lt := filepath.Join(root, bottom.Hex), filepath.Join(root, top.Hex)
	tests := []struct {
		name     string
		diffIDs  []v1.Hash
		readOnly bool
		layer    layers.Options
		want     func(cdir string) []mount.Mount
	}{
		{"read-write", []v1.Hash{bottom, top}, false, layers.Options{}, func(cdir string) []mount.Mount {
			return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
				"lowerdir=" + lt + ":" + lb, "nodev", "upperdir=" + filepath.Join(cdir, "upper"), "workdir=" + filepath.Join(cdir, "work")}}}
		}},
		{"read-only", []v1.Hash{bottom, top}, true, layers.Options{}, func(cdir string) []mount.Mount {
			return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{"lowerdir=" + filepath.Join(cdir, "mountpoints") + ":" + lt + ":" + lb, "nodev", "ro"}}}
		}},
		{"read-only single layer", []v1.Hash{bottom}, true, layers.Options{}, func(cdir string) []mount.Mount {
			return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{"lowerdir=" + filepath.Join(cdir, "mountpoints") + ":" + lb, "nodev", "ro"}}}
		}},
		{"userxattr", []v1.Hash{bottom, top}, true, layers.Options{Whiteouts: layers.WhiteoutUserXattr}, func(cdir string) []mount.Mount {
			return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{"lowerdir=" + filepath.Join(cdir, "mountpoints") + ":" + lt + ":" + lb, "nodev", "userxattr", "ro"}}}
		}},
		{"no layers", nil, true, layers.Options{}, func(cdir string) []mount.Mount {
			return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{"lowerdir=" + filepath.Join(cdir, "mountpoints") + ":" + filepath.Join(cdir, "empty"), "nodev", "ro"}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Snapshotter{root: root, driver: Overlay, layer: tt.layer}
			cdir := filepath.Join(t.TempDir(), "c")
			got, err := s.Prepare(t.Context(), cdir, tt.diffIDs, tt.readOnly)
			if err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			if want := tt.want(cdir); !reflect.DeepEqual(got, want) {
				t.Errorf("Prepare = %+v, want %+v", got, want)
			}
			if _, err := os.Stat(filepath.Join(cdir, "rootfs")); err != nil {
				t.Errorf("Prepare did not create rootfs/: %v", err)
			}
		})
	}
}

// TestPrepareKeepsOthersOut: the container dir holds the image's setuid files and device nodes
// (a vfs rootfs/) and what the container's root makes (upper/); a container dir that other
// users may traverse, as the container store creates it, gives them a setuid root shell.
func TestPrepareKeepsOthersOut(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			l := buildLayer(t, entry{name: "suid", body: "#!", mode: 0o4755})
			unpack(t, s, l)
			cdir := filepath.Join(base, "containers", "c")
			if err := os.MkdirAll(cdir, 0o711); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, false); err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			fi, err := os.Stat(cdir)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm&0o007 != 0 {
				t.Errorf("container dir mode = %v after Prepare, want no access for others", perm)
			}
		})
	}
}

// TestPrepareRootXattrs: the image's root keeps its xattrs in every driver, read-write and
// read-only. Overlay shows the merged root with the attributes of the upper's root (or the
// mountpoints layer's), which got the top layer's owner, mode and times but none of its
// xattrs, where the vfs copy has them all.
func TestPrepareRootXattrs(t *testing.T) {
	img := buildLayer(t, entry{name: "./", typ: tar.TypeDir, mode: 0o711, uid: 5, gid: 6, xattrs: map[string]string{"user.r": "root"}}, file("f", "f"))
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			unpack(t, s, img)
			for _, ro := range []bool{false, true} {
				cdir := filepath.Join(base, "containers", fmt.Sprint(ro))
				mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{img.diffID}, ro)
				if err != nil {
					t.Fatalf("Prepare(readOnly=%v) = %v", ro, err)
				}
				rootfs := filepath.Join(cdir, "rootfs")
				mountAll(t, mounts, rootfs)
				if v, err := getXattr(rootfs, "user.r"); err != nil || string(v) != "root" {
					t.Errorf("readOnly=%v: xattr user.r of / = %q, %v, want \"root\"", ro, v, err)
				}
				if fi, err := os.Stat(rootfs); err != nil || fi.Mode().Perm() != 0o711 {
					t.Errorf("readOnly=%v: / = %v, %v, want mode 0711", ro, fi, err)
				}
			}
		})
	}
}
