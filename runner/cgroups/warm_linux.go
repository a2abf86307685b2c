package cgroups

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// WarmMigration takes, in the background, the wait that the first move of a process between
// cgroups pays. Every move takes a global lock whose first writer waits for an RCU grace
// period (10-20 ms on a 250 Hz kernel); writers that follow within about one grace period do
// not wait. Moving this process into the cgroup it already is in takes that lock and changes
// nothing, so the container's own move a few milliseconds later finds the lock warm instead
// of starting the wait then.
//
// Only v1 and hybrid hosts move the init; on v2 it is born in its cgroup (DirFD). Call it
// after New: the mover holds the cgroup tree's mutex during the grace period, which would
// stall the mkdirs of New.
func (c *Cgroup) WarmMigration() {
	if c.dir != "" || len(c.h.mounts) == 0 {
		return
	}
	go warmMigration(c.h.mounts[0])
}

// warmMigration writes 0 (this process) to the cgroup.procs of the cgroup it is in, in m.
// Failing is harmless: the container's move then waits as it always did.
func warmMigration(m mount) {
	dir, ok := ownCgroup(m)
	if !ok {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString("0")
}

// ownCgroup finds this process's cgroup directory in m from /proc/self/cgroup. Those paths
// are relative to this process's cgroup namespace, the mounts' to the namespace they were
// made in; only when both are PID 1's (in a container: its own) is the path surely the
// directory we are in, and not some other cgroup to move into.
func ownCgroup(m mount) (string, bool) {
	self, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		return "", false
	}
	if init, err := os.Readlink("/proc/1/ns/cgroup"); err != nil || init != self {
		return "", false
	}
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	defer f.Close()
	return cgroupIn(f, m)
}

// cgroupIn finds the directory in m of the cgroup that r, in the format of /proc/PID/cgroup
// ("hierarchy-ID:controller-list:cgroup-path" lines), lists for m's first controller.
func cgroupIn(r io.Reader, m mount) (string, bool) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		fields := strings.SplitN(s.Text(), ":", 3)
		if len(fields) != 3 || !slices.Contains(strings.Split(fields[1], ","), m.ctrls[0]) {
			continue
		}
		// Clean keeps a hostile or odd path ("/../..") inside the mount.
		return filepath.Join(m.dir, filepath.Clean("/"+fields[2])), true
	}
	return "", false
}
