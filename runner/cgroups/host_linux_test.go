package cgroups

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// These tests create real cgroups on the host, under a parent of their own
// (strata-test-<pid>) that t.Cleanup removes with everything in it. On this hybrid CI host the
// v1 code runs here and the v2 code only against the fake tree (see fake_linux_test.go).

// cgroupWritable requires that this process can create a cgroup on the host: root, a mounted
// hierarchy, and a cgroupfs that is not read-only (as it is in most unprivileged containers).
var cgroupWritable = testutil.Requirement{Name: "cgroup", Check: func() string {
	h := host()
	dir := h.root
	switch {
	case h.mode == modeNone:
		return "no cgroup filesystem is mounted at " + h.root
	case h.mode != modeV2:
		dir = h.mounts[0].dir
	}
	probe := filepath.Join(dir, fmt.Sprintf("strata-probe-%d", os.Getpid()))
	if err := unix.Mkdir(probe, 0o755); err != nil {
		return "making a cgroup in " + dir + ": " + err.Error()
	}
	if err := unix.Rmdir(probe); err != nil {
		return "removing probe cgroup " + probe + ": " + err.Error()
	}
	return ""
}}

// hostHierarchy returns the host's hierarchy with a parent private to this test, removed again
// (in every tree) when the test ends.
func hostHierarchy(t *testing.T) *hierarchy {
	t.Helper()
	testutil.Requires(t, testutil.Root, cgroupWritable)
	h := *host()
	h.parent = fmt.Sprintf("strata-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() {
		for _, dir := range testParents(&h) {
			if err := h.rmdir(dir); err != nil && !isNotExist(err) {
				t.Errorf("removing test parent cgroup: %v", err)
			}
		}
	})
	return &h
}

func testParents(h *hierarchy) []string {
	if h.mode == modeV2 {
		return []string{filepath.Join(h.root, h.parent)}
	}
	var dirs []string
	for _, m := range h.mounts {
		dirs = append(dirs, filepath.Join(m.dir, h.parent))
	}
	if h.unified != "" {
		dirs = append(dirs, filepath.Join(h.unified, h.parent))
	}
	return dirs
}

// newHost creates a cgroup on the host whose processes are killed and directories removed when
// the test ends, whatever happened.
func newHost(t *testing.T, h *hierarchy, name string, r Resources) *Cgroup {
	t.Helper()
	c, err := h.create(name, r)
	if err != nil {
		t.Fatalf("create(%q, %+v) = %v", name, r, err)
	}
	t.Cleanup(func() {
		if err := c.Kill(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := c.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return c
}

// startGated starts sh -c script with its stdin held open, moves it into c, then lets it run by
// closing stdin: the script begins with `read x`, so nothing it forks escapes the cgroup.
func startGated(t *testing.T, c *Cgroup, script string) *exec.Cmd {
	t.Helper()
	testutil.Requires(t, testutil.Command("sh"))
	cmd := exec.Command("sh", "-c", "read x; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // may have exited already; Wait below reaps it either way
		_ = cmd.Wait()
	})
	if err := c.AddProc(cmd.Process.Pid); err != nil {
		t.Fatalf("AddProc(%d) = %v", cmd.Process.Pid, err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestHostLimitsReadBack(t *testing.T) {
	h := hostHierarchy(t)
	r := Resources{Memory: 64 << 20, MemorySwap: 96 << 20, CPUs: 0.5, CPUShares: 512, CpusetCpus: "0", PidsLimit: 20}
	c := newHost(t, h, "limits", r)

	// The kernel's own files, read directly, hold the limits.
	want := map[string]string{}
	if c.dir != "" {
		want = map[string]string{
			filepath.Join(c.dir, "memory.max"):      strconv.FormatInt(r.Memory, 10),
			filepath.Join(c.dir, "memory.swap.max"): strconv.FormatInt(r.MemorySwap-r.Memory, 10),
			filepath.Join(c.dir, "cpu.max"):         "50000 100000",
			filepath.Join(c.dir, "cpuset.cpus"):     "0",
			filepath.Join(c.dir, "pids.max"):        "20",
		}
	} else {
		want = map[string]string{
			filepath.Join(c.ctrls["memory"], "memory.limit_in_bytes"):       strconv.FormatInt(r.Memory, 10),
			filepath.Join(c.ctrls["memory"], "memory.memsw.limit_in_bytes"): strconv.FormatInt(r.MemorySwap, 10),
			filepath.Join(c.ctrls["cpu"], "cpu.cfs_quota_us"):               "50000",
			filepath.Join(c.ctrls["cpu"], "cpu.cfs_period_us"):              "100000",
			filepath.Join(c.ctrls["cpu"], "cpu.shares"):                     "512",
			filepath.Join(c.ctrls["cpuset"], "cpuset.cpus"):                 "0",
			filepath.Join(c.ctrls["pids"], "pids.max"):                      "20",
		}
	}
	for p, w := range want {
		if got := readFake(t, p); got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
	got, err := c.Limits()
	if err != nil {
		t.Fatal(err)
	}
	if c.dir != "" {
		r.CPUShares = weightToShares(sharesToWeight(r.CPUShares)) // v2 keeps only the weight
	}
	if !got.Equal(r) {
		t.Errorf("Limits() = %+v, want %+v", got, r)
	}
	loaded, err := h.load("limits")
	if err != nil {
		t.Fatalf("load = %v", err)
	}
	if lim, err := loaded.Limits(); err != nil || !lim.Equal(got) {
		t.Errorf("loaded Limits() = %+v, %v, want %+v", lim, err, got)
	}
}

func TestHostProcsKillDelete(t *testing.T) {
	testutil.Requires(t, testutil.Command("sleep"))
	h := hostHierarchy(t)
	c := newHost(t, h, "procs", Resources{PidsLimit: 10})
	// A shell and a background child: Kill must get both, not only the process AddProc saw.
	cmd := startGated(t, c, "sleep 1000 & exec sleep 1000")
	pid := cmd.Process.Pid

	var pids []int
	err := retry(h.wait, func() (bool, error) {
		var err error
		pids, err = c.Procs()
		return err != nil || len(pids) == 2, err
	})
	if err != nil || !slices.Contains(pids, pid) || len(pids) != 2 {
		t.Fatalf("Procs() = %v, %v, want %d and its child", pids, err, pid)
	}
	own, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(own), "/"+h.parent+"/procs\n") {
		t.Errorf("/proc/%d/cgroup does not name the container's cgroup:\n%s", pid, own)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.PidsCurrent != 2 || st.PidsLimit != 10 || st.MemoryUsage == 0 {
		t.Errorf("Stats() = %+v, want 2 pids of 10 and some memory", st)
	}

	if err := c.Kill(); err != nil {
		t.Fatalf("Kill() = %v", err)
	}
	var exitErr *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("after Kill, Wait() = %v, want killed by SIGKILL", err)
	}
	if pids, err := c.Procs(); err != nil || len(pids) != 0 {
		t.Errorf("after Kill, Procs() = %v, %v, want none", pids, err)
	}
	if err := c.Delete(); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	for _, d := range c.dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Delete, stat %s = %v, want not exist", d, err)
		}
	}
	if _, err := h.load("procs"); !errors.Is(err, ErrNotFound) {
		t.Errorf("load after Delete = %v, want ErrNotFound", err)
	}
}

// The kernel's OOM killer, not the test, ends a shell that tries to hold 200 MiB under a
// 32 MiB limit without swap; memory.oom_control (v1, 4.13+) or memory.events (v2) count it.
func TestHostOOMKilled(t *testing.T) {
	testutil.Requires(t, testutil.Command("head"), testutil.Command("tr"))
	h := hostHierarchy(t)
	c := newHost(t, h, "oom", Resources{Memory: 32 << 20, MemorySwap: 32 << 20})
	if oom, err := c.OOMKilled(); err != nil || oom {
		t.Fatalf("before: OOMKilled() = %v, %v, want false", oom, err)
	}
	cmd := startGated(t, c, `x=$(head -c 200m /dev/zero | tr '\0' a); echo survived`)
	err := cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("Wait() = %v, want the shell killed by the OOM killer", err)
	}
	oom, err := c.OOMKilled()
	if err != nil || !oom {
		t.Errorf("OOMKilled() = %v, %v, want true", oom, err)
	}
}

// A fork loop stops at the pids limit: the shell counts as one, so at most limit-1 sleeps start
// and the kernel records the refused forks in pids.events.
func TestHostPidsLimit(t *testing.T) {
	testutil.Requires(t, testutil.Command("sleep"))
	const limit = 8
	h := hostHierarchy(t)
	c := newHost(t, h, "pids", Resources{PidsLimit: limit})
	cmd := startGated(t, c, "i=0; while [ $i -lt 64 ]; do sleep 1000 & i=$((i+1)); done")
	_ = cmd.Wait() // the shell exits when a fork fails (dash) or when the loop ends

	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.PidsCurrent > limit || st.PidsLimit != limit {
		t.Errorf("Stats() = %+v, want at most %d pids", st, limit)
	}
	dir := c.dir
	if dir == "" {
		dir = c.ctrls["pids"]
	}
	refused, _, err := readKeyed(dir, "pids.events", "max")
	if err != nil || refused == 0 {
		t.Errorf("pids.events max = %d, %v, want refused forks", refused, err)
	}
	if err := c.Kill(); err != nil {
		t.Fatalf("Kill() = %v", err)
	}
}

func TestHostDirFD(t *testing.T) {
	h := hostHierarchy(t)
	c := newHost(t, h, "fd", Resources{})
	fd, ok := c.DirFD()
	if h.mode != modeV2 {
		if ok {
			t.Errorf("DirFD() on %s = %d, true; want ok false (UseCgroupFD needs v2 controllers)", h.mode, fd)
		}
		return
	}
	if !ok {
		t.Fatal("DirFD() ok = false on v2")
	}
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if pids, err := c.Procs(); err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("Procs() = %v, %v, want the child born in the cgroup", pids, err)
	}
}

// Mode must agree with what /proc/self/mountinfo says is mounted at the root.
func TestHostMode(t *testing.T) {
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skipf("no mountinfo: %v", err)
	}
	fstype := map[string]string{}
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		if i := slices.Index(f, "-"); len(f) > 4 && i > 0 && i+1 < len(f) {
			fstype[f[4]] = f[i+1]
		}
	}
	want := modeNone
	switch {
	case fstype[defaultRoot] == "cgroup2":
		want = modeV2
	case fstype[defaultRoot+"/unified"] == "cgroup2" && fstype[defaultRoot+"/memory"] == "cgroup":
		want = modeHybrid
	case fstype[defaultRoot+"/memory"] == "cgroup":
		want = modeV1
	}
	if got := Mode(); got != want {
		t.Errorf("Mode() = %q, want %q from mountinfo", got, want)
	}
}

func BenchmarkHostNewDelete(b *testing.B) {
	if os.Geteuid() != 0 || host().mode == modeNone {
		b.Skip("needs root and a cgroup hierarchy")
	}
	h := *host()
	h.parent = fmt.Sprintf("strata-bench-%d", os.Getpid())
	defer func() {
		for _, d := range testParents(&h) {
			_ = h.rmdir(d)
		}
	}()
	r := Resources{Memory: 64 << 20, PidsLimit: 100}
	for i := 0; b.Loop(); i++ {
		c, err := h.create("b"+strconv.Itoa(i), r)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Delete(); err != nil {
			b.Fatal(err)
		}
	}
}

// Without a unified node (a pure v1 host) Kill has no cgroup.kill and must freeze, kill and
// thaw. A shell that forks as fast as it can, up to the pids limit, checks that no child slips
// out between listing and killing.
func TestHostKillWithFreezer(t *testing.T) {
	testutil.Requires(t, testutil.Command("sleep"))
	h := hostHierarchy(t)
	if h.mode == modeV2 {
		t.Skip("the freezer path is for v1 hosts; v2 has cgroup.kill or cgroup.freeze")
	}
	v1 := *h
	v1.unified, v1.mode = "", modeV1
	c := newHost(t, &v1, "freezer", Resources{PidsLimit: 50})
	if c.unified != "" || c.ctrls["freezer"] == "" {
		t.Fatalf("cgroup dirs %v, want a freezer and no unified node", c.dirs)
	}
	cmd := startGated(t, c, "while :; do sleep 1000 & done")
	if err := retry(h.wait, func() (bool, error) {
		pids, err := c.Procs()
		return err != nil || len(pids) > 10, err
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(); err != nil {
		t.Fatalf("Kill() = %v", err)
	}
	_ = cmd.Wait()
	if pids, err := c.Procs(); err != nil || len(pids) != 0 {
		t.Errorf("after Kill, Procs() = %v, %v, want none", pids, err)
	}
	if s, err := readTrim(c.ctrls["freezer"], "freezer.state"); err != nil || s != "THAWED" {
		t.Errorf("after Kill, freezer.state = %q, %v, want THAWED", s, err)
	}
}

// The hybrid host's unified tree is a real cgroup2 with no controller strata uses, so the v2
// code runs here against the kernel for everything but limits: the parent, a cgroup, clone3
// into it with UseCgroupFD, cgroup.kill, rmdir, and the refusal of a limit whose controller
// is missing.
func TestHostV2WithoutControllers(t *testing.T) {
	testutil.Requires(t, testutil.Command("sleep"))
	hh := hostHierarchy(t)
	if hh.unified == "" {
		t.Skip("no unified cgroup2 tree on this host")
	}
	h := newHierarchy(hh.unified, modeV2)
	h.parent = hh.parent

	if _, err := h.create("limited", Resources{Memory: 64 << 20}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("create with a memory limit = %v, want ErrUnsupported (no memory controller)", err)
	}
	if isDir(filepath.Join(h.root, h.parent, "limited")) {
		t.Error("the refused cgroup was left behind")
	}

	c := newHost(t, h, "v2", Resources{})
	fd, ok := c.DirFD()
	if !ok {
		t.Fatal("DirFD() ok = false on cgroup2")
	}
	cmd := exec.Command("sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if pids, err := c.Procs(); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Procs() = %v, %v, want the child born in the cgroup", pids, err)
	}
	if oom, err := c.OOMKilled(); err != nil || oom {
		t.Errorf("OOMKilled() = %v, %v, want false without a memory controller", oom, err)
	}
	if _, err := c.Stats(); err != nil {
		t.Errorf("Stats() = %v", err)
	}
	if err := c.Kill(); err != nil {
		t.Fatalf("Kill() = %v", err)
	}
	var exitErr *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("after Kill, Wait() = %v, want killed by SIGKILL", err)
	}
	if err := c.Delete(); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	if isDir(c.dir) {
		t.Errorf("Delete left %s", c.dir)
	}
}

// Containers start concurrently from separate strata processes: the first ones race to make
// strata's parents (and fill the cpuset parent), and every one must still succeed, while two
// of the same name must not both.
func TestHostConcurrentNew(t *testing.T) {
	h := hostHierarchy(t)
	const n = 8
	errs := make(chan error, n+1)
	cgs := make(chan *Cgroup, n+1)
	for i := range n + 1 {
		name := fmt.Sprintf("c%d", i)
		if i == n {
			name = "c0" // the same name as the first
		}
		go func() {
			c, err := h.create(name, Resources{CpusetCpus: "0", CPUs: 0.5, PidsLimit: 10})
			errs <- err
			cgs <- c
		}()
	}
	exists := 0
	for range n + 1 {
		err := <-errs
		if c := <-cgs; c != nil {
			t.Cleanup(func() {
				if err := c.Delete(); err != nil {
					t.Error(err)
				}
			})
		}
		switch {
		case errors.Is(err, ErrExists):
			exists++
		case err != nil:
			t.Errorf("concurrent create = %v", err)
		}
	}
	if exists != 1 {
		t.Errorf("%d creates of a taken name failed with ErrExists, want 1", exists)
	}
}
