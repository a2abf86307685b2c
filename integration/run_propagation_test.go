package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRunBindPropagationSlave: -v SRC:DST:rslave (and --mount bind-propagation=rslave) of a
// host path on a shared mount makes DST the host's slave, as docker's does: what the host
// mounts under SRC once the container runs shows at DST, while a bind of the same SRC with no
// propagation asked stays rprivate (docker's default) and does not get it, and what the
// container mounts under DST does not reach the host. The init made its copy of the host's
// mounts rprivate before it bound anything, and the option did nothing.
func TestRunBindPropagationSlave(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	src := tmpfsMount(t, unix.MS_SHARED)
	for _, d := range []string{"y", "z"} {
		if err := os.Mkdir(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	t.Cleanup(func() { strata(t, root, "rm", "-f", "prop-slave") })
	mustStrata(t, root, "run", "-d", "--name", "prop-slave",
		"-v", src+":/p:rslave", "--mount", "type=bind,src="+src+",dst=/m,bind-propagation=rslave",
		"-v", src+":/q", img, "sleep", "600")
	// A mount the host makes once the container runs.
	y := filepath.Join(src, "y")
	if err := unix.Mount("tmpfs", y, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(y, unix.MNT_DETACH) })
	r := mustStrata(t, root, "exec", "prop-slave", "cut", "-d", " ", "-f", "5", "/proc/self/mountinfo")
	points := strings.Fields(r.Stdout)
	for _, want := range []string{"/p/y", "/m/y"} {
		if !contains(points, want) {
			t.Errorf("the host's mount at %s does not show at %s in an rslave bind: mount points %q", y, want, points)
		}
	}
	if contains(points, "/q/y") {
		t.Errorf("the host's mount at %s shows at /q, a bind that asked for no propagation (docker's rprivate): %q", y, points)
	}

	// The container's own mounts stay its own.
	mustStrata(t, root, "run", "--rm", "--privileged", "-v", src+":/p:rslave", img, "mount", "-t", "tmpfs", "t", "/p/z")
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if z := filepath.Join(src, "z"); strings.Contains(string(info), " "+z+" ") {
		_ = unix.Unmount(z, unix.MNT_DETACH)
		t.Errorf("a mount the container made under its rslave bind reached the host at %s", z)
	}
}

// TestRunBindPropagationPrivateSource: a bind that asks for slave or shared propagation of a
// path on a private mount is refused, as docker's daemon refuses it, in one line and before
// anything is made: the option could do nothing there, and the container ran with a private
// bind.
func TestRunBindPropagationPrivateSource(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	src := tmpfsMount(t, unix.MS_PRIVATE)
	for _, tt := range []struct {
		flag []string
		want string
	}{
		{[]string{"-v", src + ":/p:rslave"}, "path " + src + " is mounted on " + src + " but it is not a shared or slave mount"},
		{[]string{"-v", src + "/new/dir:/p:ro,slave"}, "path " + src + "/new/dir is mounted on " + src + " but it is not a shared or slave mount"},
		{[]string{"--mount", "type=bind,src=" + src + ",dst=/p,bind-propagation=rshared"}, "path " + src + " is mounted on " + src + " but it is not a shared mount"},
	} {
		for _, cmd := range []string{"run", "create"} {
			r := strata(t, root, append(append([]string{cmd, "--rm"}, tt.flag...), img, "true")...)
			if r.Code != 125 || r.Stderr != "strata: "+tt.want+"\n" {
				t.Errorf("%s %q: exit %d, stderr %q; want 125 and %s", cmd, tt.flag, r.Code, r.Stderr, tt.want)
			}
		}
	}
	if _, err := os.Stat(src + "/new"); err == nil {
		t.Errorf("a refused -v made its source")
	}
	if ps := strata(t, root, "ps", "-aq"); ps.Stdout != "" {
		t.Errorf("containers left after a refused propagation: %q", ps.Stdout)
	}
	// A private bind asks nothing of the mount.
	mustStrata(t, root, "run", "--rm", "-v", src+":/p:rprivate", img, "true")
}

// tmpfsMount mounts a small tmpfs, unmounted when the test ends, with propagation (MS_SHARED,
// MS_PRIVATE), and returns where.
func tmpfsMount(t *testing.T, propagation uintptr) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", src, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(src, unix.MNT_DETACH) })
	if err := unix.Mount("", src, "", propagation, ""); err != nil {
		t.Fatal(err)
	}
	return src
}
