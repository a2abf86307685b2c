package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// BirthFDFor is BirthFD for a process that joins the running container whose PID 1 is pid:
// exec's helper. On v2 a container may have made cgroups under its own and enabled controllers
// for them, as docker-in-docker's entrypoint and systemd do (a --privileged container's
// /sys/fs/cgroup is writable): its own cgroup then takes no process (the kernel's
// no-internal-process rule), and a helper born there failed to start with EBUSY. The helper is
// then born in pid's cgroup, as runc's exec joins its init's, once that is the container's
// own or one under it; anywhere else, and on v1 and hybrid hosts, it is BirthFD's. The fd
// belongs to the Cgroup: Close or Delete closes it.
func (c *Cgroup) BirthFDFor(pid int) (int, bool) {
	if c.dir == "" || pid <= 0 {
		return c.BirthFD()
	}
	if s, err := readTrim(c.dir, "cgroup.subtree_control"); err != nil || s == "" {
		return c.BirthFD()
	}
	b, err := c.h.procCgroup(pid)
	if err != nil {
		return c.BirthFD()
	}
	for _, line := range strings.Split(string(b), "\n") {
		rel, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		dir := filepath.Join(c.h.root, filepath.Clean("/"+rel))
		if dir == c.dir || !strings.HasPrefix(dir, c.dir+"/") || !isDir(dir) {
			break
		}
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		c.mu.Lock()
		if c.join != nil {
			c.join.Close()
		}
		c.join = os.NewFile(uintptr(fd), dir)
		c.mu.Unlock()
		return fd, true
	}
	return c.BirthFD()
}

// readProcCgroup reads /proc/<pid>/cgroup.
func readProcCgroup(pid int) ([]byte, error) {
	return os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
}
