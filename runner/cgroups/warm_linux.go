package cgroups

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// WarmMigration takes, in the background, the wait that the first move of a process between
// cgroups pays. Every move takes a global lock whose first writer waits for an RCU grace
// period (10–15 ms on this 250 Hz kernel); writers that follow within about one grace period do
// not wait. Moving this process into the cgroup it already is in takes that lock and changes
// nothing, so the container's own move a few milliseconds later finds the lock warm instead
// of starting the wait then.
//
// Only v1 and hybrid hosts move processes (an init moves only its own thread, JoinThread, which
// needs no warming); on v2 they are born in their cgroup (DirFD). Call it once the cgroup's
// directories exist: the mover holds the cgroup tree's mutex during the grace period, which
// would stall their mkdirs.
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

// ownCgroup finds this process's cgroup directory in m. /proc/self/cgroup gives its path
// relative to this process's cgroup namespace; mountinfo gives the path of the mount's root
// relative to the same, so that a mount of part of the tree, or one made in another
// namespace, maps to the right directory or to none (never to some other cgroup to move into).
func ownCgroup(m mount) (string, bool) {
	dir, err := filepath.EvalSymlinks(m.dir)
	if err != nil {
		return "", false
	}
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(dir))
	if err != nil || len(infos) == 0 {
		return "", false
	}
	root := infos[len(infos)-1].Root // the top mount on dir is the one paths resolve in
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	defer f.Close()
	p, ok := cgroupIn(f, m.ctrls[0])
	if !ok {
		return "", false
	}
	rel, ok := underRoot(p, root)
	if !ok {
		return "", false
	}
	return filepath.Join(dir, rel), true
}

// underRoot returns cgroup path p relative to a mount whose root is the cgroup path root,
// or false when p lies outside it (or root is outside the namespace: "/..").
func underRoot(p, root string) (string, bool) {
	if slices.Contains(strings.Split(root, "/"), "..") {
		return "", false
	}
	root = filepath.Clean("/" + root)
	if root == "/" {
		return p, true
	}
	if p != root && !strings.HasPrefix(p, root+"/") {
		return "", false
	}
	return "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/"), true
}

// cgroupIn returns the cgroup path (cleaned, absolute) that r, in the format of
// /proc/PID/cgroup ("hierarchy-ID:controller-list:cgroup-path" lines), lists for controller
// ctrl.
func cgroupIn(r io.Reader, ctrl string) (string, bool) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		fields := strings.SplitN(s.Text(), ":", 3)
		if len(fields) != 3 || !slices.Contains(strings.Split(fields[1], ","), ctrl) {
			continue
		}
		return filepath.Clean("/" + fields[2]), true
	}
	return "", false
}
