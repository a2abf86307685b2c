package integration

import (
	"strings"
	"testing"
)

// TestPureV2CgroupExtra plays docker's other cgroup flags, update and stats on a pure v2
// layout (pureV2Script): swappiness and --oom-kill-disable, which v2 has no file for, are
// dropped with docker's warnings and the run goes on; a limit whose controller the hierarchy
// lacks is refused with exit 125 (never silently ignored), one it has is written; stats shows
// BLOCK I/O and NET I/O; update writes the v2 file.
func TestPureV2CgroupExtra(t *testing.T) {
	requiresContainers(t)
	controllers := cgroup2Controllers(t)
	has := map[string]bool{}
	for _, c := range controllers {
		has[c] = true
	}
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"

	r := mustV2Strata(t, root, "run", "--rm", "--memory-swappiness", "10", "--oom-kill-disable", img, "true")
	if !strings.Contains(r.Stderr, "WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.") ||
		!strings.Contains(r.Stderr, "WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.") {
		t.Errorf("v2 run with swappiness and oom-kill-disable: stderr %q, want docker's two warnings", r.Stderr)
	}
	mustV2Strata(t, root, "create", "--name", "v2x", "--memory-swappiness", "10", "--oom-kill-disable", img, "true")
	if got := strings.TrimSpace(mustV2Strata(t, root, "inspect", "-f", "{{json .HostConfig.MemorySwappiness}} {{json .HostConfig.OomKillDisable}}", "v2x").Stdout); got != "null null" {
		t.Errorf("v2 inspect MemorySwappiness, OomKillDisable = %s, want null null (discarded, as docker's daemon does)", got)
	}
	mustV2Strata(t, root, "rm", "v2x")
	if r := v2Strata(t, root, "run", "--rm", "--memory-swappiness", "101", img, "true"); r.Code != 125 {
		t.Errorf("v2 run --memory-swappiness 101: exit %d, want 125", r.Code)
	}

	for _, lim := range []struct {
		flags      []string
		controller string
		file, want string
	}{
		{[]string{"--cpu-period", "50000", "--cpu-quota", "25000"}, "cpu", "cpu.max", "25000 50000"},
		{[]string{"--memory-reservation", "32m"}, "memory", "memory.low", "33554432"},
		{[]string{"--blkio-weight", "1000"}, "io", "io.weight", "default 10000"},
		{[]string{"--cpuset-mems", "0"}, "cpuset", "cpuset.mems", "0"},
	} {
		args := append(append([]string{"run", "--rm"}, lim.flags...), img, "cat", "/sys/fs/cgroup/"+lim.file)
		r := v2Strata(t, root, args...)
		switch {
		case has[lim.controller] && r.Code != 0 && !strings.Contains(r.Stderr, "weighs I/O by cgroup"):
			t.Errorf("%v with the %s controller: exit %d, stderr %q", lim.flags, lim.controller, r.Code, r.Stderr)
		case has[lim.controller] && r.Code == 0 && !strings.Contains(r.Stdout, lim.want):
			t.Errorf("%v: %s = %q, want %s", lim.flags, lim.file, r.Stdout, lim.want)
		case !has[lim.controller] && (r.Code != 125 || !strings.Contains(r.Stderr, "not supported")):
			t.Errorf("%v without the %s controller: exit %d, stderr %q; want 125 saying it is not supported", lim.flags, lim.controller, r.Code, r.Stderr)
		}
	}

	mustV2Strata(t, root, "run", "-d", "--name", "v2s", img, "sleep", "600")
	t.Cleanup(func() { v2Strata(t, root, "rm", "-f", "v2s") })
	if got := strings.TrimSpace(mustV2Strata(t, root, "stats", "--no-stream", "--format", "{{.NetIO}}|{{.BlockIO}}", "v2s").Stdout); got != "0B / 0B|0B / 0B" {
		t.Errorf("v2 stats NetIO|BlockIO = %q", got)
	}
	r = v2Strata(t, root, "update", "--pids-limit", "30", "v2s")
	switch {
	case has["pids"] && r.Code != 0:
		t.Errorf("v2 update --pids-limit: exit %d, %q", r.Code, r.Stderr)
	case !has["pids"] && (r.Code != 1 || !strings.Contains(r.Stderr, "not supported")):
		t.Errorf("v2 update --pids-limit without the pids controller: exit %d, %q; want 1 saying it is not supported", r.Code, r.Stderr)
	}
	if has["pids"] {
		if out := mustV2Strata(t, root, "exec", "v2s", "cat", "/sys/fs/cgroup/pids.max").Stdout; strings.TrimSpace(out) != "30" {
			t.Errorf("v2 pids.max after update = %q", out)
		}
	}
}
