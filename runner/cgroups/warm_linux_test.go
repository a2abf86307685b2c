package cgroups

import (
	"os"
	"strings"
	"testing"
)

func TestCgroupIn(t *testing.T) {
	const hybrid = `12:pids:/user.slice/user-0.slice
9:memory:/user.slice
4:cpu,cpuacct:/system.slice/x.service
1:name=systemd:/user.slice/user-0.slice/session-1.scope
0::/user.slice/user-0.slice/session-1.scope
3:freezer:/../../etc
`
	tests := []struct {
		ctrl string
		want string
		ok   bool
	}{
		{"memory", "/user.slice", true},
		{"cpuacct", "/system.slice/x.service", true},
		{"cpu", "/system.slice/x.service", true},
		{"freezer", "/etc", true}, // cleaned: never climbs
		{"devices", "", false},
	}
	for _, tt := range tests {
		got, ok := cgroupIn(strings.NewReader(hybrid), tt.ctrl)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cgroupIn(%s) = %q, %v; want %q, %v", tt.ctrl, got, ok, tt.want, tt.ok)
		}
	}
}

func TestUnderRoot(t *testing.T) {
	tests := []struct {
		p, root, want string
		ok            bool
	}{
		{"/user.slice", "/", "/user.slice", true},
		{"/", "/", "/", true},
		{"/a/b", "/a", "/b", true},
		{"/a", "/a", "/", true},
		{"/ab", "/a", "", false},      // a sibling, not under /a
		{"/b", "/a", "", false},       // outside the mount
		{"/x", "/..", "", false},      // the mount's root is outside our namespace
		{"/x", "/../y", "", false},    // same
		{"/a/b/c", "a/b", "/c", true}, // a root without its slash
	}
	for _, tt := range tests {
		got, ok := underRoot(tt.p, tt.root)
		if got != tt.want || ok != tt.ok {
			t.Errorf("underRoot(%q, %q) = %q, %v; want %q, %v", tt.p, tt.root, got, ok, tt.want, tt.ok)
		}
	}
}

// TestOwnCgroup: on this host, the directory found is one this process is in.
func TestOwnCgroup(t *testing.T) {
	h := host()
	if h.mode != modeV1 && h.mode != modeHybrid {
		t.Skipf("skipping: cgroups here are %s, not v1", h.mode)
	}
	dir, ok := ownCgroup(h.mounts[0])
	if !ok {
		t.Skip("skipping: this process's v1 cgroup is not visible here")
	}
	pids, err := readPids(dir)
	if err != nil {
		t.Fatal(err)
	}
	self := 0
	for _, p := range pids {
		if p == os.Getpid() {
			self++
		}
	}
	if self != 1 {
		t.Errorf("ownCgroup = %s, whose cgroup.procs does not list this process", dir)
	}
}
