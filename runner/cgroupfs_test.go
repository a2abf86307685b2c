package runner

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestCgroupSteps(t *testing.T) {
	hybrid := []cgroupMount{
		{"/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"},
		{"/sys/fs/cgroup/memory", "cgroup", "rw,memory"},
		{"/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd"},
		{"/sys/fs/cgroup/unified", "cgroup2", "rw,nsdelegate"},
		{"/sys/fs/cgroup/memory/nested", "cgroup", "rw,memory"}, // not directly under: ignored
	}
	steps := cgroupSteps(hybrid, map[string]string{"cpu": "cpu,cpuacct"}, false)
	want := []struct {
		op     Op
		target string
		fstype string
		data   string
	}{
		{OpMount, "/sys/fs/cgroup", "tmpfs", "mode=755"},
		{OpMount, "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct"},
		{OpMount, "/sys/fs/cgroup/memory", "cgroup", "memory"},
		{OpMount, "/sys/fs/cgroup/systemd", "cgroup", "xattr,name=systemd"},
		{OpMount, "/sys/fs/cgroup/unified", "cgroup2", "nsdelegate"},
		{OpSymlink, "/sys/fs/cgroup/cpu", "", ""},
		{OpReadOnly, "/sys/fs/cgroup", "", ""},
	}
	if len(steps) != len(want) {
		t.Fatalf("cgroupSteps(hybrid) = %d steps %+v, want %d", len(steps), steps, len(want))
	}
	for i, w := range want {
		s := steps[i]
		if s.Op != w.op || s.Target != w.target || s.FSType != w.fstype || s.Data != w.data {
			t.Errorf("step %d = %+v, want %+v", i, s, w)
		}
		if s.Op == OpMount && s.FSType != "tmpfs" && s.Flags&unix.MS_RDONLY == 0 {
			t.Errorf("step %d %s is not read-only", i, s.Target)
		}
	}

	v2 := cgroupSteps([]cgroupMount{{"/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"}}, nil, true)
	if len(v2) != 1 || v2[0].FSType != "cgroup2" || v2[0].Flags&unix.MS_RDONLY != 0 {
		t.Errorf("cgroupSteps(v2, privileged) = %+v, want one rw cgroup2 mount", v2)
	}
	if got := cgroupSteps(nil, nil, false); len(got) != 0 {
		t.Errorf("cgroupSteps(no cgroups) = %+v, want none", got)
	}
}
