package runner

import (
	"os"
	"path/filepath"

	"github.com/moby/sys/mountinfo"
)

// hostCgroupMounts lists the host's cgroup filesystems under /sys/fs/cgroup and the symlinks
// beside them. The init calls it before pivoting, while its mount table is still a copy of the
// host's. Errors mean "no cgroup mounts": the container then runs without /sys/fs/cgroup.
func hostCgroupMounts() ([]cgroupMount, map[string]string) {
	infos, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
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
