package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// hostCgroupV2 reports whether this host's cgroups are pure v2.
func hostCgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// cgroupRead reads file of container id's cgroup: the v2 directory, or on v1 the directory in
// controller ctrl. ok is false when the file does not exist.
func cgroupRead(t *testing.T, id, ctrl, file string) (string, bool) {
	t.Helper()
	dir := filepath.Join("/sys/fs/cgroup", ctrl, "strata", id)
	if hostCgroupV2() {
		dir = filepath.Join("/sys/fs/cgroup/strata", id)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b)), true
}

func mustCgroupRead(t *testing.T, id, ctrl, file string) string {
	t.Helper()
	v, ok := cgroupRead(t, id, ctrl, file)
	if !ok {
		t.Fatalf("container %s has no %s/%s", id[:12], ctrl, file)
	}
	return v
}

// TestRunCgroupExtraFlags: docker's --cpu-period, --cpu-quota, --cpuset-mems,
// --memory-reservation, --memory-swappiness, --oom-kill-disable and --blkio-weight reach the
// container's cgroup files on this host, and inspect shows them as docker does.
func TestRunCgroupExtraFlags(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "cg-extra") })
	args := []string{"run", "-d", "--name", "cg-extra", "-m", "64m", "--cpu-period", "50000", "--cpu-quota", "25000",
		"--cpuset-mems", "0", "--memory-reservation", "32m", "--memory-swappiness", "10", "--oom-kill-disable"}
	weight := weightFile()
	if weight != "" {
		args = append(args, "--blkio-weight", "300")
	}
	r := mustStrata(t, root, append(args, "alpine", "sleep", "600")...)
	id := containerID(t, root, "cg-extra")
	if hostCgroupV2() {
		if got := mustCgroupRead(t, id, "", "cpu.max"); got != "25000 50000" {
			t.Errorf("cpu.max = %q", got)
		}
		if got := mustCgroupRead(t, id, "", "memory.low"); got != "33554432" {
			t.Errorf("memory.low = %q", got)
		}
		if !strings.Contains(r.Stderr, "Memory swappiness discarded") || !strings.Contains(r.Stderr, "OomKillDisable discarded") {
			t.Errorf("no docker warnings for swappiness and oom-kill-disable on v2: %q", r.Stderr)
		}
	} else {
		for _, f := range []struct{ ctrl, file, want string }{
			{"cpu", "cpu.cfs_period_us", "50000"}, {"cpu", "cpu.cfs_quota_us", "25000"},
			{"cpuset", "cpuset.mems", "0"},
			{"memory", "memory.soft_limit_in_bytes", "33554432"}, {"memory", "memory.swappiness", "10"},
		} {
			if got := mustCgroupRead(t, id, f.ctrl, f.file); got != f.want {
				t.Errorf("%s/%s = %q, want %q", f.ctrl, f.file, got, f.want)
			}
		}
		if got := mustCgroupRead(t, id, "memory", "memory.oom_control"); !strings.Contains(got, "oom_kill_disable 1") {
			t.Errorf("memory.oom_control = %q, want oom_kill_disable 1", got)
		}
	}
	if weight != "" {
		ctrl := "blkio"
		if got := mustCgroupRead(t, id, ctrl, weight); !strings.HasSuffix(got, "300") && got != "2718" { // v2 io.weight: 1+(300-10)*9999/990
			t.Errorf("%s = %q, want 300", weight, got)
		}
	}
	hc := mustStrata(t, root, "inspect", "-f",
		"{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpusetMems}} {{.HostConfig.MemoryReservation}} {{.HostConfig.BlkioWeight}}", "cg-extra").Stdout
	wantW := "0"
	if weight != "" {
		wantW = "300"
	}
	if got, want := strings.TrimSpace(hc), "50000 25000 0 33554432 "+wantW; got != want {
		t.Errorf("inspect HostConfig = %q, want %q", got, want)
	}
	if !hostCgroupV2() {
		js := mustStrata(t, root, "inspect", "cg-extra").Stdout
		if !strings.Contains(js, `"MemorySwappiness": 10`) || !strings.Contains(js, `"OomKillDisable": true`) {
			t.Errorf("inspect lacks MemorySwappiness 10 or OomKillDisable true")
		}
	}
}

// weightFile is the block I/O weight file a container's cgroup has on this host ("" if none):
// the one --blkio-weight writes.
func weightFile() string {
	dirs := []string{"/sys/fs/cgroup/blkio"}
	names := []string{"blkio.bfq.weight", "blkio.weight"}
	if hostCgroupV2() {
		dirs, names = []string{"/sys/fs/cgroup"}, []string{"io.bfq.weight", "io.weight"}
	}
	for _, d := range dirs {
		// The root has no weight file: a child's, such as strata's parent.
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(d, "strata", n)); err == nil {
				return n
			}
		}
	}
	return ""
}

// TestBlkioWeightUnenforceable: where no scheduler of the host weighs I/O by cgroup,
// --blkio-weight is an error, not a silent no-op.
func TestBlkioWeightUnenforceable(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	// Made once so that strata's parent exists to look in.
	mustStrata(t, root, "run", "--rm", "alpine", "true")
	if weightFile() != "" {
		t.Skip("this host's block scheduler offers a weight file: TestRunCgroupExtraFlags covers it")
	}
	r := strata(t, root, "run", "--rm", "--blkio-weight", "300", "alpine", "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "weighs I/O by cgroup") {
		t.Errorf("run --blkio-weight: exit %d, %q; want 125 and why", r.Code, r.Stderr)
	}
}

// TestUpdateRunning: update changes a running container's memory limit (raised, then
// lowered: memsw and memory in the kernel's order on v1), CPU quota (a cpu directory made
// and the process moved in where it had none) and pids limit, records them for inspect and
// for the next start; lowering memory below what it uses is said in words, exit 1.
func TestUpdateRunning(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "up-run", "up-stopped") })
	mustStrata(t, root, "run", "-d", "--name", "up-run", "-m", "64m", "alpine", "sleep", "600")
	id := containerID(t, root, "up-run")
	memFile, ctrl := "memory.limit_in_bytes", "memory"
	if hostCgroupV2() {
		memFile = "memory.max"
	}
	for _, m := range []string{"256m", "32m"} {
		r := mustStrata(t, root, "update", "-m", m, "up-run")
		if strings.TrimSpace(r.Stdout) != "up-run" {
			t.Errorf("update printed %q, want the name as given", r.Stdout)
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(m, "m"), 10, 64)
		if got := mustCgroupRead(t, id, ctrl, memFile); got != strconv.FormatInt(n<<20, 10) {
			t.Errorf("after update -m %s: %s = %s", m, memFile, got)
		}
		if !hostCgroupV2() {
			if got, ok := cgroupRead(t, id, ctrl, "memory.memsw.limit_in_bytes"); ok && got != strconv.FormatInt(2*n<<20, 10) {
				t.Errorf("after update -m %s: memsw = %s, want twice the memory", m, got)
			}
		}
	}
	mustStrata(t, root, "update", "--cpus", "0.5", "--pids-limit", "40", "up-run")
	if hostCgroupV2() {
		if got := mustCgroupRead(t, id, "", "cpu.max"); got != "50000 100000" {
			t.Errorf("cpu.max = %q", got)
		}
	} else {
		if got := mustCgroupRead(t, id, "cpu", "cpu.cfs_quota_us"); got != "50000" {
			t.Errorf("cpu.cfs_quota_us = %q", got)
		}
		pid := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", "up-run").Stdout)
		if got := mustCgroupRead(t, id, "cpu", "cgroup.procs"); !strings.Contains(got, pid) {
			t.Errorf("cpu cgroup.procs = %q, want the container's init %s moved in", got, pid)
		}
	}
	if got := mustCgroupRead(t, id, "pids", "pids.max"); got != "40" {
		t.Errorf("pids.max = %q", got)
	}
	hc := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", "up-run").Stdout)
	if hc != "33554432 500000000 40" {
		t.Errorf("inspect after update = %q", hc)
	}

	// Below what it uses: 40 MB of tmpfs that neither reclaim nor swap can take back.
	mustStrata(t, root, "exec", "up-run", "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=24")
	r := strata(t, root, "update", "-m", "8m", "--memory-swap", "8m", "up-run")
	if !hostCgroupV2() {
		if r.Code != 1 || !strings.Contains(r.Stderr, "uses more memory than that") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("update below use: exit %d, %q; want 1 and one line saying why", r.Code, r.Stderr)
		}
		if got := mustCgroupRead(t, id, ctrl, memFile); got != strconv.Itoa(32<<20) {
			t.Errorf("a refused update changed %s to %s", memFile, got)
		}
		if hc := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.HostConfig.Memory}}", "up-run").Stdout); hc != "33554432" {
			t.Errorf("a refused update was recorded: Memory %s", hc)
		}
	}

	// Stopped: recorded, and the next start applies it.
	mustStrata(t, root, "stop", "-t", "1", "up-run")
	if dirs := cgroupDirsOf(t, id); len(dirs) != 0 {
		t.Errorf("cgroup dirs left after stop (one an update made?): %v", dirs)
	}
	mustStrata(t, root, "update", "-m", "48m", "--cpu-shares", "512", "up-run")
	mustStrata(t, root, "start", "up-run")
	if got := mustCgroupRead(t, id, ctrl, memFile); got != strconv.Itoa(48<<20) {
		t.Errorf("after start: %s = %s, want the updated 48m", memFile, got)
	}
	if !hostCgroupV2() {
		if got := mustCgroupRead(t, id, "cpu", "cpu.shares"); got != "512" {
			t.Errorf("after start: cpu.shares = %s", got)
		}
	}

	// Several containers: each error on a line, the others updated, exit 1.
	mustStrata(t, root, "create", "--name", "up-stopped", "alpine", "true")
	r = strata(t, root, "update", "--pids-limit", "77", "nosuch", "up-stopped", "up-run")
	if r.Code != 1 || strings.TrimSpace(r.Stdout) != "up-stopped\nup-run" || !strings.Contains(r.Stderr, "nosuch") {
		t.Errorf("update nosuch up-stopped up-run: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.HostConfig.PidsLimit}}", "up-stopped").Stdout); got != "77" {
		t.Errorf("up-stopped PidsLimit = %s", got)
	}
	r = strata(t, root, "update", "up-run")
	if r.Code != 1 || !strings.Contains(r.Stderr, "you must provide one or more flags") {
		t.Errorf("update without flags: exit %d, %q", r.Code, r.Stderr)
	}
	// 48m with the implicit swap of run -m: raising memory raises that swap with it (strata's
	// default of swap equal to memory), where docker refuses without --memory-swap.
	mustStrata(t, root, "update", "-m", "200m", "up-run")
	if got := mustCgroupRead(t, id, ctrl, memFile); got != strconv.Itoa(200<<20) {
		t.Errorf("update -m 200m: %s = %s", memFile, got)
	}
	// An explicit swap limit below the new memory is docker's refusal.
	mustStrata(t, root, "update", "-m", "100m", "--memory-swap", "150m", "up-run")
	r = strata(t, root, "update", "-m", "200m", "up-run")
	if r.Code != 1 || !strings.Contains(r.Stderr, "Memory limit should be smaller than already set memoryswap limit") {
		t.Errorf("update -m above the set memory-swap: exit %d, %q", r.Code, r.Stderr)
	}
}

// TestStatsIO: stats shows docker's NET I/O and BLOCK I/O columns. lo's traffic is not
// counted; a veth pair made in the container's network namespace is. Block I/O of direct
// writes is counted (on a v1 host of Linux 6.x once the device has a throttle rule, which
// the test gives it in the container's own cgroup).
func TestStatsIO(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "st-io") })
	mustStrata(t, root, "run", "-d", "--name", "st-io", "alpine", "sleep", "600")
	id := containerID(t, root, "st-io")
	pid := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", "st-io").Stdout)
	// lo only: nothing.
	mustStrata(t, root, "exec", "st-io", "sh", "-c", "ping -c 2 -W 1 127.0.0.1 || true")
	out := mustStrata(t, root, "stats", "--no-stream", "st-io").Stdout
	lines := strings.Split(out, "\n")
	if !strings.Contains(lines[0], "NET I/O") || !strings.Contains(lines[0], "BLOCK I/O") {
		t.Fatalf("stats header = %q", lines[0])
	}
	if got := strings.TrimSpace(mustStrata(t, root, "stats", "--no-stream", "--format", "{{.NetIO}}", "st-io").Stdout); got != "0B / 0B" {
		t.Errorf("NET I/O with lo alone = %q, want 0B / 0B", got)
	}

	if _, err := exec.LookPath("ip"); err == nil {
		// Both ends in the container's namespace: their IPv6 link-local chatter (DAD, MLD)
		// crosses the pair and nothing leaves it.
		pair := fmt.Sprintf("hv%d", os.Getpid()%100000)
		if err := exec.Command("ip", "link", "add", pair, "netns", pid, "type", "veth", "peer", "name", pair+"p", "netns", pid).Run(); err == nil {
			exec.Command("nsenter", "-t", pid, "-n", "ip", "link", "set", pair, "up").Run()
			exec.Command("nsenter", "-t", pid, "-n", "ip", "link", "set", pair+"p", "up").Run()
			exec.Command("nsenter", "-t", pid, "-n", "ping", "-6", "-c", "2", "-W", "1", "-I", pair, "ff02::1").Run()
			deadline := time.Now().Add(30 * time.Second)
			for {
				got := strings.TrimSpace(mustStrata(t, root, "stats", "--no-stream", "--format", "{{.NetIO}}", "st-io").Stdout)
				if got != "0B / 0B" {
					if rx, _, _ := strings.Cut(got, " / "); rx == "0B" {
						t.Errorf("NET I/O = %q: the pair's traffic is not received", got)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("NET I/O stayed %q with a veth pair up in the container", got)
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}

	// Block I/O: direct writes and reads of the container's root, on its device.
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	if !hostCgroupV2() {
		// Starts blk-throttle (and its counters) on the device; the rule, a terabyte a
		// second, is the container's own and goes with its cgroup.
		f := filepath.Join("/sys/fs/cgroup/blkio/strata", id, "blkio.throttle.write_bps_device")
		if err := os.WriteFile(f, []byte(dev+" 1099511627776"), 0o644); err != nil {
			t.Skipf("no throttle rule for the device of %s (%s): %v", root, dev, err)
		}
	}
	r := strata(t, root, "exec", "st-io", "dd", "if=/dev/zero", "of=/direct", "bs=1M", "count=4", "oflag=direct")
	if r.Code != 0 {
		t.Skipf("no O_DIRECT on this root's filesystem: %s", r.Stderr)
	}
	got := strings.TrimSpace(mustStrata(t, root, "stats", "--no-stream", "--format", "{{.BlockIO}}", "st-io").Stdout)
	if _, w, _ := strings.Cut(got, " / "); w == "0B" || w == "" {
		t.Errorf("BLOCK I/O after 4 MiB of direct writes = %q", got)
	}
}

// TestCgroupParent: --cgroup-parent places the container's cgroup under strata's parent
// (relative) or the tree's root (absolute), where stats, update, pause and exec find it, and
// rm removes it and leaves the parent, as docker does. The parents are removed after.
func TestCgroupParent(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	rel, abs := fmt.Sprintf("it-parent-%d/sub", os.Getpid()), fmt.Sprintf("/it-abs-%d", os.Getpid())
	t.Cleanup(func() {
		strata(t, root, "rm", "-f", "cp-rel", "cp-abs")
		for _, d := range []string{"strata/" + rel, "strata/" + filepath.Dir(rel), abs[1:]} {
			for _, m := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/*"} {
				dirs, _ := filepath.Glob(filepath.Join(m, d))
				for _, dir := range dirs {
					unix.Rmdir(dir)
				}
			}
		}
	})
	for _, tc := range []struct{ name, parent, dir string }{
		{"cp-rel", rel, "strata/" + rel},
		{"cp-abs", abs, abs[1:]},
	} {
		mustStrata(t, root, "run", "-d", "--name", tc.name, "--cgroup-parent", tc.parent, "-m", "64m", "alpine", "sleep", "600")
		id := containerID(t, root, tc.name)
		pid := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", tc.name).Stdout)
		b, err := os.ReadFile("/proc/" + pid + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		if want := "/" + tc.dir + "/" + id; !strings.Contains(string(b), want) {
			t.Errorf("%s: /proc/%s/cgroup = %q, want %s", tc.name, pid, b, want)
		}
		if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.HostConfig.CgroupParent}}", tc.name).Stdout); got != tc.parent {
			t.Errorf("%s: HostConfig.CgroupParent = %q", tc.name, got)
		}
		mustStrata(t, root, "update", "-m", "96m", tc.name)
		memDir := filepath.Join("/sys/fs/cgroup/memory", tc.dir, id)
		memFile := "memory.limit_in_bytes"
		if hostCgroupV2() {
			memDir, memFile = filepath.Join("/sys/fs/cgroup", tc.dir, id), "memory.max"
		}
		if got, _ := os.ReadFile(filepath.Join(memDir, memFile)); strings.TrimSpace(string(got)) != strconv.Itoa(96<<20) {
			t.Errorf("%s: after update, %s = %q", tc.name, memFile, got)
		}
		if out := mustStrata(t, root, "stats", "--no-stream", "--format", "{{.MemUsage}}", tc.name).Stdout; !strings.Contains(out, "/ 96MiB") {
			t.Errorf("%s: stats MemUsage = %q", tc.name, out)
		}
		mustStrata(t, root, "pause", tc.name)
		if st := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", tc.name).Stdout; strings.TrimSpace(st) != "paused" {
			t.Errorf("%s: paused container's status = %q", tc.name, st)
		}
		mustStrata(t, root, "unpause", tc.name)
		mustStrata(t, root, "exec", tc.name, "true")
		mustStrata(t, root, "rm", "-f", tc.name)
		if _, err := os.Stat(memDir); !os.IsNotExist(err) {
			t.Errorf("%s: cgroup left after rm: %v", tc.name, err)
		}
		if _, err := os.Stat(filepath.Dir(memDir)); err != nil {
			t.Errorf("%s: the parent went with the container: %v", tc.name, err)
		}
	}
}
