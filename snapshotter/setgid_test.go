package snapshotter

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/testutil"
)

// TestSetgidRootGroupNotInherited: in a storage root below a setgid directory (a group's
// shared /srv, say), a layer's root, the container's "/" unless its tar has a "./" entry,
// belongs to strata's user and group as docker chowns its layer dirs, not to the group of
// the directory above: every container of the image had a "/" of the host's group. So does
// the root of a container of an image without layers.
func TestSetgidRootGroupNotInherited(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			testutil.Requires(t, d.reqs...)
			base := t.TempDir()
			const gid = 4242
			if err := os.Chown(base, -1, gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(base, 0o755|os.ModeSetgid); err != nil {
				t.Fatal(err)
			}
			s, err := New(filepath.Join(base, "snapshots"), Options{Driver: d.driver, Layer: d.layer})
			if err != nil {
				t.Fatal(err)
			}
			l := buildLayer(t, file("a/b", "no ./ entry"))
			unpack(t, s, l)
			check := func(p string) {
				t.Helper()
				var st syscall.Stat_t
				if err := syscall.Lstat(p, &st); err != nil {
					t.Fatal(err)
				}
				if int(st.Gid) != os.Getegid() || st.Mode&syscall.S_ISGID != 0 {
					t.Errorf("%s: gid %d, mode %o; want gid %d, no setgid", p, st.Gid, st.Mode, os.Getegid())
				}
			}
			check(s.LayerDir(l.diffID))
			if d.driver == VFS {
				return
			}
			cdir := filepath.Join(base, "containers", "c1")
			if _, err := s.Prepare(t.Context(), cdir, []v1.Hash(nil), false); err != nil {
				t.Fatal(err)
			}
			check(filepath.Join(cdir, emptyDir))
			check(filepath.Join(cdir, upperDir))
		})
	}
}
