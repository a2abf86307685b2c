package cgroups

import (
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// defaultRoot is where distributions mount the cgroup filesystems.
	defaultRoot = "/sys/fs/cgroup"
	// parentName is the directory strata owns in every tree; containers' cgroups sit under it.
	parentName = "strata"
	// unifiedDir is the cgroup2 mount of a hybrid host, under the root.
	unifiedDir = "unified"
)

// v1Controllers are the v1 controllers a container may get a directory in, in creation order
// (wantV1 says which it does get). memory first: Path shows it.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"}

// v2Controllers are the controllers strata enables for its subtree on v2.
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids", "io"}

// Modes returned by Mode.
const (
	modeV1     = "v1"
	modeV2     = "v2"
	modeHybrid = "hybrid"
	modeNone   = "none"
)

// mount is one v1 hierarchy and the controllers mounted on it together (cpu,cpuacct on many
// distributions: /sys/fs/cgroup/cpu and /sys/fs/cgroup/cpuacct are then the same directory).
type mount struct {
	dir   string
	ctrls []string
}

// hierarchy is the host's cgroup layout. Tests build one over a fake tree in t.TempDir(); the
// mkdir and rmdir hooks let that fake behave like cgroupfs (files appear on mkdir, rmdir of a
// populated cgroup is EBUSY).
type hierarchy struct {
	root    string
	parent  string
	mode    string
	mounts  []mount // v1 and hybrid
	unified string  // hybrid: the cgroup2 mount, "" when absent
	// wait bounds how long Kill waits for the processes to die; rmWait how long Delete
	// retries while exiting processes keep a cgroup busy.
	wait   time.Duration
	rmWait time.Duration
	mkdir  func(path string) error
	rmdir  func(path string) error
	// enable turns a v2 controller on for dir's children (cgroup.subtree_control).
	enable func(dir, ctrl string) error
	// attachDevices confines the cgroup2 directory dir to rules (attachDeviceProgram).
	attachDevices func(dir string, rules []DeviceRule) error
	// procCgroup reads /proc/<pid>/cgroup (BirthFDFor).
	procCgroup func(pid int) ([]byte, error)
}

// host is the hierarchy of this machine, detected on first use.
var host = sync.OnceValue(func() *hierarchy { return detect(defaultRoot) })

// Mode reports the host's cgroup layout: "v2" (one cgroup2 tree), "v1" (one tree per
// controller), "hybrid" (v1 controllers plus a cgroup2 tree at unified/), or "none" when no
// cgroup filesystem is mounted.
func Mode() string { return host().mode }

// detect finds the layout by statfs, as runc and systemd do: a cgroup2 root is v2; otherwise
// the root is a tmpfs of per-controller mounts, hybrid if a cgroup2 sits at unified/.
func detect(root string) *hierarchy {
	h := newHierarchy(root, modeNone)
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return h
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.mode = modeV2
		return h
	}
	h.scanV1()
	u := filepath.Join(root, unifiedDir)
	if err := unix.Statfs(u, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.unified = u
	}
	switch {
	case h.unified != "" && len(h.mounts) > 0:
		h.mode = modeHybrid
	case len(h.mounts) > 0:
		h.mode = modeV1
	}
	return h
}

func newHierarchy(root, mode string) *hierarchy {
	return &hierarchy{
		root:          root,
		parent:        parentName,
		mode:          mode,
		wait:          5 * time.Second,
		rmWait:        time.Second,
		mkdir:         func(p string) error { return unix.Mkdir(p, 0o755) },
		rmdir:         func(p string) error { return unix.Rmdir(p) },
		enable:        func(dir, ctrl string) error { return writeFile(dir, "cgroup.subtree_control", "+"+ctrl) },
		attachDevices: attachDeviceProgram,
		procCgroup:    readProcCgroup,
	}
}

// scanV1 finds which of v1Controllers are mounted, folding co-mounted ones into one mount by
// comparing device and inode (the directories are then symlinks to one mount point).
func (h *hierarchy) scanV1() {
	type key struct{ dev, ino uint64 }
	seen := map[key]int{}
	for _, ctrl := range v1Controllers {
		dir := filepath.Join(h.root, ctrl)
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		k := key{st.Dev, st.Ino}
		if i, ok := seen[k]; ok {
			h.mounts[i].ctrls = append(h.mounts[i].ctrls, ctrl)
			continue
		}
		seen[k] = len(h.mounts)
		h.mounts = append(h.mounts, mount{dir: dir, ctrls: []string{ctrl}})
	}
}
