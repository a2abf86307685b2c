package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestApplyTargetErrorsSayPathOnce pins that a mount step's error names its target once:
// the step says "mount /data/sub", so what failed under it names only another path (a
// parent made on the way). It read "mount /data/sub: mkdir /data/sub: read-only file system"
// and "mount /etc/passwd/x: open /etc/passwd/x: not a directory".
func TestApplyTargetErrorsSayPathOnce(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	srcFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(srcFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	inPrivateMountNamespace(t, func() error {
		a := newPlanApplier(rootfs)
		defer a.close()
		if err := a.apply([]Step{{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/data", Flags: unix.MS_RDONLY}}); err != nil {
			return err
		}
		var errs []error
		for _, tt := range []struct {
			step Step
			want string
		}{
			{Step{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/etc/passwd/x"}, "mounting rootfs: mount /etc/passwd/x: not a directory"},
			{Step{Op: OpBind, Source: srcFile, Target: "/etc/passwd/x"}, "mounting rootfs: bind /etc/passwd/x: not a directory"},
			{Step{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/data/sub"}, "mounting rootfs: mount /data/sub: mkdir: read-only file system"},
			{Step{Op: OpBind, Source: srcFile, Target: "/data/f"}, "mounting rootfs: bind /data/f: create: read-only file system"},
			{Step{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/data/a/sub"}, "mounting rootfs: mount /data/a/sub: mkdir /data/a: read-only file system"},
			{Step{Op: OpMount, Source: "tmpfs", FSType: "tmpfs", Target: "/etc/passwd/a/b"}, "mounting rootfs: mount /etc/passwd/a/b: not a directory"},
			// The working directory (-w), in docker's words.
			{Step{Op: OpMkdir, Target: "/etc/passwd"}, "mounting rootfs: cannot mkdir: /etc/passwd is not a directory"},
			{Step{Op: OpMkdir, Target: "/etc/passwd/x"}, "mounting rootfs: cannot mkdir: /etc/passwd/x is not a directory"},
			{Step{Op: OpMkdir, Target: "/data/wd"}, "mounting rootfs: mkdir /data/wd: read-only file system"},
		} {
			if err := a.apply([]Step{tt.step}); err == nil || err.Error() != tt.want {
				errs = append(errs, fmt.Errorf("apply(%s %s) = %v, want %q", tt.step.Op, tt.step.Target, err, tt.want))
			}
		}
		return errors.Join(errs...)
	})
}
