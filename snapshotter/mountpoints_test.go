package snapshotter

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// mountpointImage is an image whose paths exercise the merged view: a symlinked directory
// (var/run -> /run, as in Debian), a directory the top layer deletes (gone/) and one it makes
// opaque (opq/), a regular file (etc/conf), a directory with its own owner and mode (srv/),
// and a symlink aimed at the host (evil -> the absolute path outside).
func mountpointImage(t *testing.T, outside string) (bottom, top layer) {
	bottom = buildLayer(t,
		dir("etc/"), file("etc/conf", "conf"),
		dir("run/"), dir("var/"), symlink("var/run", "/run"),
		dir("gone/"), file("gone/f", "f"),
		dir("opq/"), dir("opq/old/"),
		entry{name: "srv/", typ: tar.TypeDir, mode: 0o750, uid: 42, gid: 43},
		symlink("evil", outside),
	)
	top = buildLayer(t,
		file(".wh.gone", ""),
		dir("opq/"), file("opq/.wh..wh..opq", ""), file("opq/new", "new"),
	)
	return bottom, top
}

// TestAddMountpoints prepares a read-only container, adds the mount points of its user
// mounts, then mounts its root read-only and checks what the container would see.
func TestAddMountpoints(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			outside := filepath.Join(base, "outside")
			bottom, top := mountpointImage(t, outside)
			unpack(t, s, bottom)
			unpack(t, s, top)
			diffIDs := []v1.Hash{bottom.diffID, top.diffID}
			cdir := filepath.Join(base, "containers", "c1")
			mounts, err := s.Prepare(t.Context(), cdir, diffIDs, true)
			if err != nil {
				t.Fatal(err)
			}
			hostFile := filepath.Join(base, "host.conf")
			if err := os.WriteFile(hostFile, []byte("host"), 0o644); err != nil {
				t.Fatal(err)
			}
			hostDir := t.TempDir()
			user := []mount.Mount{
				{Type: "bind", Source: hostDir, Target: "/newdir"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/a/b/c"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/a/b"}, // a parent of the one before
				{Type: "bind", Source: hostFile, Target: "/etc/new.conf"},
				{Type: "bind", Source: filepath.Join(base, "missing"), Target: "/made/by/v"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/var/run/x"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/gone/sub"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/opq/old/sub"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/srv/data"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/../../escape"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/evil/x"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/etc"}, // the image has it
			}
			if err := s.AddMountpoints(t.Context(), cdir, diffIDs, user); err != nil {
				t.Fatalf("AddMountpoints = %v", err)
			}
			// A second run (strata start of a stopped container) finds everything there.
			if err := s.AddMountpoints(t.Context(), cdir, diffIDs, user); err != nil {
				t.Fatalf("AddMountpoints again = %v", err)
			}
			rootfs := filepath.Join(cdir, "rootfs")
			mountAll(t, mounts, rootfs)

			for _, p := range []string{"newdir", "a/b/c", "made/by/v", "run/x", "gone/sub", "opq/old/sub", "srv/data", "escape"} {
				if st, err := os.Lstat(filepath.Join(rootfs, p)); err != nil || !st.IsDir() {
					t.Errorf("/%s: %v, want a directory", p, err)
				}
			}
			if st, err := os.Lstat(filepath.Join(rootfs, "etc/new.conf")); err != nil || !st.Mode().IsRegular() {
				t.Errorf("/etc/new.conf: %v, want an empty file for the bind of a file", err)
			}
			if link, err := os.Readlink(filepath.Join(rootfs, "var/run")); err != nil || link != "/run" {
				t.Errorf("/var/run = %q, %v, want it still a symlink to /run", link, err)
			}
			// Securejoin kept the absolute symlink inside the root.
			if st, err := os.Lstat(filepath.Join(rootfs, outside, "x")); err != nil || !st.IsDir() {
				t.Errorf("/evil/x resolved to %s inside the root: %v, want a directory", outside+"/x", err)
			}
			wantAbsent(t, outside)
			wantAbsent(t, filepath.Join(rootfs, "gone/f")) // still deleted by the top layer
			wantContent(t, filepath.Join(rootfs, "opq/new"), "new")
			wantContent(t, filepath.Join(rootfs, "etc/conf"), "conf")
			// A directory repeated in the top layer keeps the image's owner and mode.
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(rootfs, "srv"), &st); err != nil || st.Uid != 42 || st.Gid != 43 || st.Mode&0o7777 != 0o750 {
				t.Errorf("/srv: uid %d gid %d mode %o (%v), want 42 43 750 as in the image", st.Uid, st.Gid, st.Mode&0o7777, err)
			}
			if err := unix.Access(filepath.Join(rootfs, "etc"), unix.W_OK); !errors.Is(err, unix.EROFS) {
				t.Errorf("access(/etc, W_OK) = %v, want EROFS: the root is read-only", err)
			}
		})
	}
}

// A mount point under a file of the image cannot be made; the error names the target.
func TestAddMountpointsUnderFile(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			l := buildLayer(t, dir("etc/"), file("etc/conf", "conf"))
			unpack(t, s, l)
			cdir := filepath.Join(base, "containers", "c1")
			if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, true); err != nil {
				t.Fatal(err)
			}
			err := s.AddMountpoints(t.Context(), cdir, []v1.Hash{l.diffID}, []mount.Mount{{Type: "tmpfs", Target: "/etc/conf/x"}})
			if !errors.Is(err, unix.ENOTDIR) {
				t.Errorf("AddMountpoints(/etc/conf/x) = %v, want ENOTDIR", err)
			}
		})
	}
}

// A container prepared writable has an upper: its init makes the mount points there.
func TestAddMountpointsWritable(t *testing.T) {
	for _, d := range drivers[:1] {
		s, base := newTestSnapshotter(t, d)
		l := buildLayer(t, dir("etc/"))
		unpack(t, s, l)
		cdir := filepath.Join(base, "containers", "c1")
		if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, false); err != nil {
			t.Fatal(err)
		}
		if err := s.AddMountpoints(t.Context(), cdir, []v1.Hash{l.diffID}, []mount.Mount{{Type: "tmpfs", Target: "/x"}}); err != nil {
			t.Errorf("AddMountpoints on a writable container = %v", err)
		}
		wantAbsent(t, filepath.Join(cdir, "mountpoints"))
	}
}
