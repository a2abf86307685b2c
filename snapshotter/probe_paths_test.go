package snapshotter

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/testutil"
)

// TestOverlayOddRoot opens overlay snapshotters on roots whose paths hold the characters
// overlayfs reads specially (the colon, the backslash, the comma), then runs a container's
// root from them. The probe mount wrote its two lowerdirs unescaped, so a root with a colon
// or a backslash in its path probed as unable to mount overlay: New fell back to vfs (or
// failed with Driver: Overlay), where Prepare's mounts, which escape them, worked.
func TestOverlayOddRoot(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Mknod, testutil.Overlay)
	lower, upper := baseAndTop(t)
	for _, name := range []string{"a:b", `c\d`, `e\:f`, "g,h"} {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), name)
			s, err := New(filepath.Join(base, "snapshots"), Options{Driver: Overlay})
			if err != nil {
				t.Fatalf("New(overlay) under %q = %v", name, err)
			}
			unpack(t, s, lower)
			unpack(t, s, upper)
			for _, readOnly := range []bool{false, true} {
				cdir := filepath.Join(base, "containers", "c"+map[bool]string{false: "rw", true: "ro"}[readOnly])
				mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{lower.diffID, upper.diffID}, readOnly)
				if err != nil {
					t.Fatalf("Prepare = %v", err)
				}
				rootfs := filepath.Join(cdir, "rootfs")
				mountAll(t, mounts, rootfs)
				wantContent(t, filepath.Join(rootfs, "etc/passwd"), "root:x:0:0")
				wantContent(t, filepath.Join(rootfs, "etc/motd"), "new")
				if !readOnly {
					if err := os.WriteFile(filepath.Join(rootfs, "written"), nil, 0o644); err != nil {
						t.Errorf("writing in the rootfs: %v", err)
					}
				}
			}
		})
	}
}
