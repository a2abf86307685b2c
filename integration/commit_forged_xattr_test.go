package integration

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCommitForgedOverlayXattrs: a root overlay keeps its marks in trusted.overlay.* and
// passes user.overlay.* through to the writable layer, where a process in the container can
// set them (setfattr -n user.overlay.opaque -v y /etc). They are the container's data, not
// overlayfs's: diff must not list /etc deleted, commit must not write /etc opaque (the new
// image would lose the image's /etc) nor refuse a forged metacopy or redirect, and export
// must keep the image's files. The marks are set on the writable layer from outside, where
// the container's setxattr puts them.
func TestCommitForgedOverlayXattrs(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	mustStrata(t, root, "run", "--name", "fx1", img, "sh", "-c", "echo new > /etc/newfile; mkdir -p /usr/x")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fx1", "fx2"); strata(t, root, "rmi", "forged:1") })
	upper := strings.TrimSpace(mustStrata(t, root, "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", "fx1").Stdout)
	if upper == "" || upper == "<no value>" {
		t.Skip("no overlay writable layer (vfs storage driver)")
	}
	for _, x := range []struct{ path, attr, val string }{
		{"etc", "user.overlay.opaque", "y"},
		{"etc/newfile", "user.overlay.metacopy", ""},
		{"usr", "user.overlay.redirect", "/bin"},
	} {
		if err := unix.Lsetxattr(filepath.Join(upper, x.path), x.attr, []byte(x.val), 0); err != nil {
			t.Skipf("no user xattrs on the writable layer: %v", err)
		}
	}
	if d := mustStrata(t, root, "diff", "fx1").Stdout; !strings.Contains(d, "C /etc\n") || strings.Contains(d, "D /etc\n") {
		t.Errorf("diff with a forged opaque /etc:\n%s\nwant C /etc", d)
	}
	mustStrata(t, root, "commit", "fx1", "forged:1")
	out := mustStrata(t, root, "run", "--name", "fx2", "forged:1", "sh", "-c",
		"test -s /etc/passwd && cat /etc/newfile && test -d /usr/x && test -d /usr/bin && echo ok").Stdout
	if out != "new\nok\n" {
		t.Errorf("the committed image: %q, want the image's /etc and /usr with the changes", out)
	}
	names := tarNames(t, mustStrata(t, root, "export", "fx1").Stdout)
	for _, want := range []string{"etc/passwd", "etc/newfile", "usr/x/"} {
		if !slices.Contains(names, want) {
			t.Errorf("export lacks %s", want)
		}
	}
}
