package runner

import (
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"

	"github.com/strata-run/strata/mount"
)

// hostCgroupMounts lists the host's cgroup filesystems under /sys/fs/cgroup and the symlinks
// beside them. The init calls it before pivoting, while its mount table is still a copy of the
// host's. Errors mean "no cgroup mounts": the container then runs without /sys/fs/cgroup.
func hostCgroupMounts() ([]cgroupMount, map[string]string) {
	infos, err := mount.Mounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, nil
	}
	var out []cgroupMount
	for _, m := range infos {
		if m.Mountpoint == "/sys/fs/cgroup" || filepath.Dir(m.Mountpoint) == "/sys/fs/cgroup" {
			out = append(out, cgroupMount{Target: m.Mountpoint, FSType: m.FSType, Super: m.VFSOptions})
		}
	}
	links := map[string]string{}
	if entries, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range entries {
			if e.Type()&os.ModeSymlink == 0 {
				continue
			}
			if to, err := os.Readlink(filepath.Join("/sys/fs/cgroup", e.Name())); err == nil && !filepath.IsAbs(to) {
				links[e.Name()] = to
			}
		}
	}
	return out, links
}

// hostCgroupInfo gathers the cgroup part of what the plan needs from the host, and whether
// its kernel has a /proc/kcore; the device
// nodes (hostDeviceNodes) are for a privileged container only.
func hostCgroupInfo() hostInfo {
	var h hostInfo
	h.Cgroups, h.CgroupLinks = hostCgroupMounts()
	_, err := os.Stat("/proc/kcore")
	h.NoKcore = err != nil // runc makes the link only where the stat succeeds
	return h
}

// hostDeviceNodes lists the character and block devices under the host's /dev, relative to
// it, skipping the filesystems every container gets its own of (pts, shm, mqueue).
func hostDeviceNodes() []string {
	var out []string
	_ = filepath.WalkDir("/dev", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel("/dev", p)
		if d.IsDir() {
			switch rel {
			case "pts", "shm", "mqueue":
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&(os.ModeDevice|os.ModeCharDevice) != 0 && rel != "console" && rel != "ptmx" {
			out = append(out, rel)
		}
		return nil
	})
	return out
}
