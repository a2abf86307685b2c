package snapshotter

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
)

// aclOf encodes a POSIX ACL as the kernel's system.posix_acl_* xattr value: version 2, then
// (tag, perm, id) entries.
func aclOf(entries ...[3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

// TestHostDefaultACLNotInherited: a default ACL on a directory above strata's root (an
// administrator's, for a backup user, say) reaches neither the layers nor what a container's
// files are made in. The layer's files carried it as an access ACL of their own, giving the
// named user read access to an image's /etc/shadow of mode 0640 in every container, and its
// directories as a default ACL, which the container's own files inherited through overlay.
func TestHostDefaultACLNotInherited(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			testutil.Requires(t, d.reqs...)
			base := t.TempDir()
			const none = ^uint32(0)
			acl := aclOf([3]uint32{0x01, 7, none}, [3]uint32{0x02, 7, 1234}, [3]uint32{0x04, 5, none}, [3]uint32{0x10, 7, none}, [3]uint32{0x20, 5, none})
			if err := unix.Setxattr(base, "system.posix_acl_default", acl, 0); err != nil {
				t.Skipf("no POSIX ACLs here: %v", err)
			}
			// New makes the root below base, which inherits the ACL as a directory above
			// strata's root passes it on.
			s, err := New(filepath.Join(base, "snapshots"), Options{Driver: d.driver, Layer: d.layer})
			if err != nil {
				t.Fatal(err)
			}
			l := buildLayer(t, dir("etc/"), entry{name: "etc/shadow", body: "root:x", mode: 0o640}, file("a/b/c", "implicit parents"))
			unpack(t, s, l)
			for _, ro := range []bool{false, true} {
				cdir := filepath.Join(base, "containers", "c"+map[bool]string{false: "rw", true: "ro"}[ro])
				if err := os.MkdirAll(cdir, 0o710); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, ro); err != nil {
					t.Fatal(err)
				}
			}
			for _, top := range []string{filepath.Join(base, "snapshots"), filepath.Join(base, "containers")} {
				err := filepath.WalkDir(top, func(p string, _ os.DirEntry, err error) error {
					if err != nil {
						return err
					}
					rel, _ := filepath.Rel(base, p)
					if rel == "containers" || rel == "snapshots" || strings.HasPrefix(rel, "snapshots/.") || strings.Count(rel, "/") == 1 && strings.HasPrefix(rel, "containers/") {
						return nil // made by New or the test, not by an unpack or Prepare
					}
					for _, name := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
						if _, err := unix.Lgetxattr(p, name, nil); err == nil {
							t.Errorf("%s has %s", rel, name)
						} else if !errors.Is(err, unix.ENODATA) {
							t.Errorf("%s: %s: %v", rel, name, err)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
