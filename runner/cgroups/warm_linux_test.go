package cgroups

import (
	"strings"
	"testing"
)

func TestCgroupIn(t *testing.T) {
	const hybrid = `12:pids:/user.slice/user-0.slice
9:memory:/user.slice
4:cpu,cpuacct:/system.slice/x.service
1:name=systemd:/user.slice/user-0.slice/session-1.scope
0::/user.slice/user-0.slice/session-1.scope
`
	tests := []struct {
		m    mount
		want string
		ok   bool
	}{
		{mount{dir: "/sys/fs/cgroup/memory", ctrls: []string{"memory"}}, "/sys/fs/cgroup/memory/user.slice", true},
		{mount{dir: "/sys/fs/cgroup/cpu,cpuacct", ctrls: []string{"cpuacct", "cpu"}}, "/sys/fs/cgroup/cpu,cpuacct/system.slice/x.service", true},
		{mount{dir: "/sys/fs/cgroup/freezer", ctrls: []string{"freezer"}}, "", false},
	}
	for _, tt := range tests {
		got, ok := cgroupIn(strings.NewReader(hybrid), tt.m)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cgroupIn(%s) = %q, %v; want %q, %v", tt.m.ctrls[0], got, ok, tt.want, tt.ok)
		}
	}
	// A path that climbs stays under the mount.
	got, ok := cgroupIn(strings.NewReader("3:memory:/../../etc\n"), mount{dir: "/sys/fs/cgroup/memory", ctrls: []string{"memory"}})
	if !ok || got != "/sys/fs/cgroup/memory/etc" {
		t.Errorf("cgroupIn(climbing path) = %q, %v; want it under the mount", got, ok)
	}
}
