package cgroups

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLockUnheldLocksFirst: Sweep tries a cgroup's lock before it finds the cgroup, on the
// first of its possible directories that exists. That must be the directory holders lock
// (lockDir): a held cgroup is then told held, and an unheld one is locked on that directory.
func TestLockUnheldLocksFirst(t *testing.T) {
	h := hostHierarchy(t)
	name := strings.Repeat("7", 64)
	c, err := h.create(name, Resources{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill(); _ = c.Delete() })
	var first string
	for _, d := range h.possibleDirs(name) {
		if isDir(d) {
			first = d
			break
		}
	}
	if first != c.lockDir() {
		t.Fatalf("first existing possible directory %s, want the lock dir %s", first, c.lockDir())
	}

	if l, ok := h.lockUnheld(name); ok {
		unix.Close(l.fd)
		t.Fatal("lockUnheld locked a cgroup its maker holds")
	}
	c.releaseHold() // as a strata killed after making it
	l, ok := h.lockUnheld(name)
	if !ok {
		t.Fatal("lockUnheld did not lock a cgroup nobody holds")
	}
	defer unix.Close(l.fd)
	var st, want unix.Stat_t
	if err := unix.Fstat(l.fd, &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(c.lockDir(), &want); err != nil {
		t.Fatal(err)
	}
	if st.Ino != want.Ino || st.Dev != want.Dev || l.c.lockDir() != c.lockDir() {
		t.Errorf("lockUnheld locked %s (inode %d), want the lock dir %s (inode %d)", l.c.lockDir(), st.Ino, c.lockDir(), want.Ino)
	}
	// While the sweep holds it, a maker cannot take its hold without waiting: held says so.
	if err := unix.Flock(openDir(t, c.lockDir()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		t.Error("a shared lock on the lock dir was granted while lockUnheld holds it exclusively")
	}
}

// openDir opens dir for a flock, closed when the test ends.
func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
