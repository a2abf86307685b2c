package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBirthFDFor: exec's helper is born in the container's cgroup, unless the container made
// cgroups under it and enabled controllers for them (docker-in-docker, systemd): the kernel's
// no-internal-process rule then refused the helper (EBUSY), and it is born in the cgroup of
// the container's PID 1 instead, as runc's exec joins its init's, once that is under the
// container's own. A PID 1 anywhere else changes nothing.
func TestBirthFDFor(t *testing.T) {
	h := fakeV2(t, fakeOpts{})
	c, err := h.create("c1", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	initDir := filepath.Join(c.dir, "init")
	if err := h.mkdir(initDir); err != nil {
		t.Fatal(err)
	}
	procCgroup := "0::/strata/c1/init\n"
	h.procCgroup = func(pid int) ([]byte, error) { return []byte(procCgroup), nil }
	same := func(fd int, dir string) bool {
		var a, b unix.Stat_t
		return unix.Fstat(fd, &a) == nil && unix.Stat(dir, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev
	}
	// No controllers enabled under it: its own cgroup.
	if fd, ok := c.BirthFDFor(1234); !ok || !same(fd, c.dir) {
		t.Errorf("BirthFDFor with an empty subtree_control = %d, %v; want the container's cgroup", fd, ok)
	}
	mustWrite(t, filepath.Join(c.dir, "cgroup.subtree_control"), "memory pids\n")
	if fd, ok := c.BirthFDFor(1234); !ok || !same(fd, initDir) {
		t.Errorf("BirthFDFor with controllers enabled under it = %d, %v; want PID 1's cgroup %s", fd, ok, initDir)
	}
	for _, elsewhere := range []string{"0::/strata/c1/../other\n", "0::/\n", "0::/strata/c1\n", "0::/strata/c1/missing\n", "garbage"} {
		procCgroup = elsewhere
		if fd, ok := c.BirthFDFor(1234); !ok || !same(fd, c.dir) {
			t.Errorf("BirthFDFor with PID 1 at %q = %d, %v; want the container's cgroup", elsewhere, fd, ok)
		}
	}
	if err := os.Mkdir(filepath.Join(h.root, "strata", "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	procCgroup = "0::/strata/other\n"
	if fd, ok := c.BirthFDFor(1234); !ok || !same(fd, c.dir) {
		t.Errorf("BirthFDFor with PID 1 in another container's cgroup = %d, %v; want the container's own", fd, ok)
	}
	if err := c.Close(); err != nil || c.join != nil {
		t.Errorf("Close = %v, join fd %v left", err, c.join)
	}
}
