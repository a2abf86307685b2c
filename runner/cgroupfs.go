package runner

import (
	"maps"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupMount is one cgroup filesystem of the host under /sys/fs/cgroup, as mountinfo lists
// it: where, which type (cgroup or cgroup2) and its super options ("rw,cpu,cpuacct").
type cgroupMount struct {
	Target string
	FSType string
	Super  string
}

// cgroupfsRoot is where the container sees its cgroup filesystems.
const cgroupfsRoot = "/sys/fs/cgroup"

// cgroupSteps mounts the container's view of the cgroup filesystems at /sys/fs/cgroup, as
// Docker does, so tools that read their limits there (the JVM, Go's GOMAXPROCS, systemd) find
// them. The init is in its own cgroup namespace by then, so each hierarchy's root is the
// container's cgroup. On a pure v2 host that is one cgroup2 mount; on v1 and hybrid hosts a
// tmpfs holds one mount per hierarchy, with the host's symlinks (cpu,cpuacct → cpu). Read-only
// unless privileged.
func cgroupSteps(host []cgroupMount, links map[string]string, privileged bool) []Step {
	if len(host) == 0 {
		return nil
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV)
	if !privileged {
		flags |= unix.MS_RDONLY
	}
	const root = cgroupfsRoot
	for _, m := range host {
		if m.Target == root && m.FSType == "cgroup2" {
			return []Step{{Op: OpMount, Target: root, FSType: "cgroup2", Source: "cgroup", Flags: flags}}
		}
	}
	steps := []Step{{Op: OpMount, Target: root, FSType: "tmpfs", Source: "tmpfs",
		Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, Data: "mode=755"}}
	for _, m := range host {
		if path.Dir(m.Target) != root {
			continue
		}
		var data []string
		for _, o := range strings.Split(m.Super, ",") {
			if o != "rw" && o != "ro" && o != "" {
				data = append(data, o)
			}
		}
		steps = append(steps, Step{Op: OpMount, Target: m.Target, FSType: m.FSType, Source: "cgroup",
			Flags: flags, Data: strings.Join(data, ",")})
	}
	for _, name := range slices.Sorted(maps.Keys(links)) {
		steps = append(steps, Step{Op: OpSymlink, Source: links[name], Target: path.Join(root, name)})
	}
	if !privileged {
		steps = append(steps, Step{Op: OpReadOnly, Target: root})
	}
	return steps
}
