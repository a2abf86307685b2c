package snapshotter

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// TestMountpointsIgnoreUmask: the mount points a read-only container gets (the runtime's
// /etc/hosts and friends, the targets of its user mounts and their parents) are 0755 and
// 0644 whatever the umask of the strata that prepares it, as docker makes them; so is the
// root of a container of an image without layers. strata runs with the user's umask: under
// 077 a non-root user of a read-only container of an image without /etc found /etc 0700
// (no /etc/resolv.conf, no name resolution), and the parents of a -v target closed to it.
func TestMountpointsIgnoreUmask(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			l := buildLayer(t, file("bin/app", "app"), symlink("lnk", "/made/through"))
			unpack(t, s, l)
			diffIDs := []v1.Hash{l.diffID}
			cdir := filepath.Join(base, "containers", "c1")
			if _, err := s.Prepare(t.Context(), cdir, diffIDs, true); err != nil {
				t.Fatal(err)
			}
			hostFile := filepath.Join(base, "host.conf")
			if err := os.WriteFile(hostFile, []byte("host"), 0o644); err != nil {
				t.Fatal(err)
			}
			user := []mount.Mount{
				{Type: "tmpfs", Source: "tmpfs", Target: "/a/b/c"},
				{Type: "bind", Source: hostFile, Target: "/conf/app.conf"},
				{Type: "tmpfs", Source: "tmpfs", Target: "/lnk/x"},
			}
			if err := s.AddMountpoints(t.Context(), cdir, diffIDs, user); err != nil {
				t.Fatal(err)
			}
			top := filepath.Join(cdir, mountpointsDir)
			if d.driver == VFS {
				top = filepath.Join(cdir, rootfsDir)
			}
			want := map[string]os.FileMode{
				"etc": os.ModeDir | 0o755, "etc/hosts": 0o644, "etc/resolv.conf": 0o644, "etc/hostname": 0o644,
				"proc": os.ModeDir | 0o755, "dev": os.ModeDir | 0o755, "sys": os.ModeDir | 0o755,
				"a": os.ModeDir | 0o755, "a/b": os.ModeDir | 0o755, "a/b/c": os.ModeDir | 0o755,
				"conf": os.ModeDir | 0o755, "conf/app.conf": 0o644,
				"made": os.ModeDir | 0o755, "made/through": os.ModeDir | 0o755, "made/through/x": os.ModeDir | 0o755,
			}
			for name, mode := range want {
				fi, err := os.Lstat(filepath.Join(top, name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if got := fi.Mode() & (os.ModeType | os.ModePerm); got != mode {
					t.Errorf("mode of %s = %v, want %v", name, got, mode)
				}
			}
			if d.driver == VFS {
				return
			}
			// An image without layers: the container's "/" is the upper's, which takes
			// the empty lower's mode.
			c2 := filepath.Join(base, "containers", "c2")
			if _, err := s.Prepare(t.Context(), c2, nil, false); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{emptyDir, upperDir} {
				if fi, err := os.Stat(filepath.Join(c2, name)); err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("%s: %v, %v; want mode 0755", name, fi.Mode(), err)
				}
			}
		})
	}
}
