package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestNewV2WritesLimits(t *testing.T) {
	tests := []struct {
		name string
		r    Resources
		want map[string]string // file in the container's dir → contents
	}{
		{"none", Resources{}, map[string]string{"memory.max": "max", "memory.swap.max": "max", "cpu.max": "max 100000", "pids.max": "max"}},
		// docker: --memory alone allows as much swap as memory (memory+swap = 2x).
		{"memory", Resources{Memory: 64 << 20}, map[string]string{"memory.max": "67108864", "memory.swap.max": "67108864"}},
		{"memory and swap", Resources{Memory: 64 << 20, MemorySwap: 96 << 20}, map[string]string{"memory.max": "67108864", "memory.swap.max": "33554432"}},
		{"no swap", Resources{Memory: 64 << 20, MemorySwap: 64 << 20}, map[string]string{"memory.swap.max": "0"}},
		{"unlimited swap", Resources{Memory: 64 << 20, MemorySwap: -1}, map[string]string{"memory.swap.max": "max"}},
		{"cpus", Resources{CPUs: 1.5}, map[string]string{"cpu.max": "150000 100000"}},
		{"tiny cpus", Resources{CPUs: 0.01}, map[string]string{"cpu.max": "1000 100000"}},
		{"default shares", Resources{CPUShares: 1024}, map[string]string{"cpu.weight": "100"}},
		{"max shares", Resources{CPUShares: 262144}, map[string]string{"cpu.weight": "10000"}},
		{"cpuset", Resources{CpusetCpus: "1-2"}, map[string]string{"cpuset.cpus": "1-2"}},
		{"pids", Resources{PidsLimit: 100}, map[string]string{"pids.max": "100"}},
		{"pids unlimited", Resources{PidsLimit: -1}, map[string]string{"pids.max": "max"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeV2(t, fakeOpts{})
			c, err := h.create("c1", tt.r)
			if err != nil {
				t.Fatalf("create(%+v) = %v", tt.r, err)
			}
			dir := filepath.Join(h.root, "strata", "c1")
			if c.Path() != dir {
				t.Errorf("Path() = %q, want %q", c.Path(), dir)
			}
			for file, want := range tt.want {
				if got := readFake(t, filepath.Join(dir, file)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
			for _, d := range []string{h.root, filepath.Join(h.root, "strata")} {
				if got := readFake(t, filepath.Join(d, "cgroup.subtree_control")); got != "cpu cpuset memory pids io" {
					t.Errorf("%s/cgroup.subtree_control = %q, want the five controllers enabled", d, got)
				}
			}
		})
	}
}

func TestNewV1WritesLimits(t *testing.T) {
	tests := []struct {
		name string
		r    Resources
		want map[string]string // controller/file → contents
	}{
		{"none", Resources{}, map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712", "pids/pids.max": "max"}},
		{"memory", Resources{Memory: 64 << 20}, map[string]string{"memory/memory.limit_in_bytes": "67108864", "memory/memory.memsw.limit_in_bytes": "134217728"}},
		{"memory and swap", Resources{Memory: 64 << 20, MemorySwap: 96 << 20}, map[string]string{"memory/memory.memsw.limit_in_bytes": "100663296"}},
		{"unlimited swap", Resources{Memory: 64 << 20, MemorySwap: -1}, map[string]string{"memory/memory.memsw.limit_in_bytes": "9223372036854771712"}},
		{"cpus", Resources{CPUs: 0.5}, map[string]string{"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"}},
		{"shares", Resources{CPUShares: 512}, map[string]string{"cpu/cpu.shares": "512"}},
		{"cpuset", Resources{CpusetCpus: "0,3"}, map[string]string{"cpuset/cpuset.cpus": "0,3", "cpuset/cpuset.mems": "0"}},
		{"pids", Resources{PidsLimit: 7}, map[string]string{"pids/pids.max": "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeV1(t, fakeOpts{})
			c, err := h.create("c1", tt.r)
			if err != nil {
				t.Fatalf("create(%+v) = %v", tt.r, err)
			}
			if want := filepath.Join(h.root, "memory", "strata", "c1"); c.Path() != want {
				t.Errorf("Path() = %q, want %q", c.Path(), want)
			}
			// cpu and cpuset only when a limit needs them: they are the costly ones to make.
			for _, ctrl := range v1Controllers {
				if got, want := isDir(filepath.Join(h.root, ctrl, "strata", "c1")), wantV1(ctrl, tt.r); got != want {
					t.Errorf("cgroup made in %s: %v, want %v", ctrl, got, want)
				}
			}
			for file, want := range tt.want {
				ctrl, name := filepath.Split(file)
				if got := readFake(t, filepath.Join(h.root, ctrl, "strata", "c1", name)); got != want {
					t.Errorf("%s = %q, want %q", file, got, want)
				}
			}
			if tt.r.CpusetCpus != "" {
				parent := filepath.Join(h.root, "cpuset", "strata")
				if got := readFake(t, filepath.Join(parent, "cgroup.clone_children")); got != "1" {
					t.Errorf("cpuset parent clone_children = %q, want 1", got)
				}
			}
		})
	}
}

func TestNewUnsupported(t *testing.T) {
	tests := []struct {
		name string
		v2   bool
		o    fakeOpts
		r    Resources
	}{
		{"v2 swap without accounting", true, fakeOpts{noSwap: true}, Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
		{"v2 no pids controller", true, fakeOpts{controllers: []string{"cpu", "memory"}}, Resources{PidsLimit: 10}},
		{"v2 no cpuset controller", true, fakeOpts{controllers: []string{"cpu", "memory"}}, Resources{CpusetCpus: "0"}},
		{"v2 cpus outside the allowed set", true, fakeOpts{cpus: "0-1"}, Resources{CpusetCpus: "1-2"}},
		{"v2 no memory controller", true, fakeOpts{controllers: []string{"pids"}}, Resources{Memory: 64 << 20}},
		{"v1 swap without accounting", false, fakeOpts{noSwap: true}, Resources{Memory: 64 << 20, MemorySwap: 128 << 20}},
		{"v1 no pids mount", false, fakeOpts{controllers: []string{"memory", "cpu"}}, Resources{PidsLimit: 10}},
		{"v1 cpus outside the allowed set", false, fakeOpts{cpus: "0-1"}, Resources{CpusetCpus: "3"}},
		{"hybrid cpus outside the allowed set", false, fakeOpts{cpus: "0", hybrid: true}, Resources{CpusetCpus: "0-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeV1
			if tt.v2 {
				h = fakeV2
			}
			hy := h(t, tt.o)
			_, err := hy.create("c1", tt.r)
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("create(%+v) = %v, want ErrUnsupported", tt.r, err)
			}
			// The half-made cgroup is gone; strata's parents may stay.
			for _, d := range dirsUnder(t, hy.root) {
				if filepath.Base(d) == "c1" {
					t.Errorf("create left %s behind", d)
				}
			}
		})
	}
}

// An implicit swap limit (docker's 2x default) is skipped where swap is not accounted: the user
// did not ask for it.
func TestNewImplicitSwapWithoutAccounting(t *testing.T) {
	for name, h := range map[string]*hierarchy{"v1": fakeV1(t, fakeOpts{noSwap: true}), "v2": fakeV2(t, fakeOpts{noSwap: true})} {
		if _, err := h.create("c1", Resources{Memory: 64 << 20}); err != nil {
			t.Errorf("%s: create(memory only) = %v, want success", name, err)
		}
	}
}

func TestNewInvalid(t *testing.T) {
	names := []string{"", ".", "..", "a/b", "../x", "a\x00b", "a\nb", string(make([]byte, 256))}
	for _, name := range names {
		h := fakeV2(t, fakeOpts{})
		if _, err := h.create(name, Resources{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("create(%q) = %v, want ErrInvalid", name, err)
		}
	}
	limits := []Resources{
		{Memory: -5},
		{Memory: 1 << 20},
		{MemorySwap: 64 << 20},
		{Memory: 64 << 20, MemorySwap: 32 << 20},
		{Memory: 64 << 20, MemorySwap: -2},
		{CPUs: -1},
		{CPUs: 0.001},
		{CPUShares: 1},
		{CPUShares: 262145},
		{CpusetCpus: "1-0"},
		{CpusetCpus: "a"},
		{CpusetCpus: "0-99999999"},
	}
	for _, r := range limits {
		for name, h := range map[string]*hierarchy{"v1": fakeV1(t, fakeOpts{}), "v2": fakeV2(t, fakeOpts{})} {
			if _, err := h.create("c1", r); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: create(%+v) = %v, want ErrInvalid", name, r, err)
			}
			if d := dirsUnder(t, h.root); slices.ContainsFunc(d, func(s string) bool { return filepath.Base(s) == "c1" }) {
				t.Errorf("%s: create(%+v) left directories %v", name, r, d)
			}
		}
	}
}

func TestNewExists(t *testing.T) {
	for name, h := range map[string]*hierarchy{"v1": fakeV1(t, fakeOpts{hybrid: true}), "v2": fakeV2(t, fakeOpts{})} {
		t.Run(name, func(t *testing.T) {
			first, err := h.create("c1", Resources{PidsLimit: 5})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.create("c1", Resources{}); !errors.Is(err, ErrExists) {
				t.Fatalf("second create = %v, want ErrExists", err)
			}
			// The failed create must not have removed the first container's cgroup.
			for _, d := range first.dirs {
				if !isDir(d) {
					t.Errorf("%s was removed by the failed create", d)
				}
			}
		})
	}
}

func TestAddProcWritesEveryController(t *testing.T) {
	for name, h := range map[string]*hierarchy{"hybrid": fakeV1(t, fakeOpts{hybrid: true}), "v2": fakeV2(t, fakeOpts{})} {
		t.Run(name, func(t *testing.T) {
			c, err := h.create("c1", Resources{})
			if err != nil {
				t.Fatal(err)
			}
			want := len(v1Controllers) - 2 + 1 // no cpu, no cpuset; plus the unified node
			if name == "v2" {
				want = 1
			}
			if len(c.dirs) != want {
				t.Errorf("cgroup has %d directories %v, want %d", len(c.dirs), c.dirs, want)
			}
			if err := c.AddProc(4242); err != nil {
				t.Fatal(err)
			}
			for _, d := range c.dirs {
				if got := readFake(t, filepath.Join(d, "cgroup.procs")); got != strconv.Itoa(4242) {
					t.Errorf("%s/cgroup.procs = %q, want 4242", d, got)
				}
			}
			if err := c.AddProc(0); !errors.Is(err, ErrInvalid) {
				t.Errorf("AddProc(0) = %v, want ErrInvalid", err)
			}
		})
	}
}

// Many distributions mount cpu and cpuacct together and point both names at that mount with
// symlinks; the container must get one directory there, not a second mkdir that fails.
func TestNewV1CoMounted(t *testing.T) {
	h := fakeV1(t, fakeOpts{controllers: []string{"memory", "cpu,cpuacct", "pids", "freezer", "devices"}})
	for _, name := range []string{"cpu", "cpuacct"} {
		if err := os.Symlink("cpu,cpuacct", filepath.Join(h.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	h.mounts = nil
	h.scanV1()
	c, err := h.create("c1", Resources{CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.ctrls["cpu"] == "" || c.ctrls["cpu"] != c.ctrls["cpuacct"] {
		t.Errorf("cpu dir %q, cpuacct dir %q, want one shared directory", c.ctrls["cpu"], c.ctrls["cpuacct"])
	}
	if len(c.dirs) != 5 {
		t.Errorf("cgroup dirs = %v, want memory, cpu,cpuacct, pids, freezer, devices", c.dirs)
	}
	if got := readFake(t, filepath.Join(h.root, "cpu,cpuacct", "strata", "c1", "cpu.cfs_quota_us")); got != "100000" {
		t.Errorf("cpu.cfs_quota_us = %q, want 100000", got)
	}
}

// Another strata process may have just made the cpuset parent and not yet filled it; a child
// made in that moment must fill the parent rather than fail with no CPUs allowed.
func TestNewV1CpusetParentEmpty(t *testing.T) {
	h := fakeV1(t, fakeOpts{})
	parent := filepath.Join(h.root, "cpuset", "strata")
	if err := h.mkdir(parent); err != nil { // the fake leaves cpus and mems empty
		t.Fatal(err)
	}
	c, err := h.create("c1", Resources{CpusetCpus: "1"})
	if err != nil {
		t.Fatalf("create with an empty cpuset parent = %v", err)
	}
	for file, want := range map[string]string{
		filepath.Join(parent, "cpuset.cpus"):            "0-3",
		filepath.Join(parent, "cpuset.mems"):            "0",
		filepath.Join(c.ctrls["cpuset"], "cpuset.cpus"): "1",
		filepath.Join(c.ctrls["cpuset"], "cpuset.mems"): "0",
	} {
		if got := readFake(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

// TestBirthAndThreadDirs: a child is born in the v2 directory, or the hybrid host's unified
// node, and joins every other directory itself; on pure v1 it is born nowhere.
func TestBirthAndThreadDirs(t *testing.T) {
	for name, h := range map[string]*hierarchy{
		"v1":     fakeV1(t, fakeOpts{}),
		"hybrid": fakeV1(t, fakeOpts{hybrid: true}),
		"v2":     fakeV2(t, fakeOpts{}),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := h.create("c1", Resources{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			fd, born := c.BirthFD()
			if born != (name != "v1") {
				t.Fatalf("BirthFD ok = %v on %s", born, name)
			}
			var birthDir string
			if born {
				if birthDir, err = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil {
					t.Fatal(err)
				}
			}
			threads := c.ThreadDirs()
			// Every directory of the cgroup is covered exactly once: born in, or joined.
			got := slices.Clone(threads)
			if born {
				got = append(got, birthDir)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.dirs))
			if !slices.Equal(got, want) {
				t.Errorf("birth %q + thread dirs %v; want the cgroup's dirs %v", birthDir, threads, want)
			}
			if name == "v2" && len(threads) != 0 {
				t.Errorf("v2 thread dirs = %v, want none", threads)
			}
			if err := JoinThread(threads); err != nil {
				t.Fatal(err)
			}
			for _, d := range threads {
				if got := readFake(t, filepath.Join(d, "tasks")); got != "0" {
					t.Errorf("%s/tasks = %q, want 0 (the calling thread)", d, got)
				}
			}
		})
	}
}

func TestJoinThreadMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := JoinThread([]string{dir}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("JoinThread of a missing cgroup = %v, want an error naming it", err)
	}
}
