package cgroups

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMerge: docker update's rules for merging new limits into a container's.
func TestMerge(t *testing.T) {
	for _, tt := range []struct {
		name    string
		old     Resources
		ch      Change
		want    Resources
		wantErr string
	}{
		{"memory", Resources{Memory: 64 << 20}, Change{Resources: Resources{Memory: 128 << 20}}, Resources{Memory: 128 << 20}, ""},
		{"memory above explicit swap", Resources{Memory: 64 << 20, MemorySwap: 100 << 20}, Change{Resources: Resources{Memory: 128 << 20}}, Resources{},
			"Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"},
		{"memory and swap", Resources{Memory: 64 << 20, MemorySwap: 100 << 20}, Change{Resources: Resources{Memory: 128 << 20, MemorySwap: 256 << 20}},
			Resources{Memory: 128 << 20, MemorySwap: 256 << 20}, ""},
		{"swap alone needs memory", Resources{}, Change{Resources: Resources{MemorySwap: 256 << 20}}, Resources{}, "a memory-swap limit needs a memory limit too"},
		{"cpus replace period and quota", Resources{CPUPeriod: 50000, CPUQuota: 20000}, Change{Resources: Resources{CPUs: 2}}, Resources{CPUs: 2}, ""},
		{"quota replaces cpus", Resources{CPUs: 1.5}, Change{Resources: Resources{CPUQuota: 50000}}, Resources{CPUQuota: 50000}, ""},
		{"period after cpus keeps its quota", Resources{CPUs: 1.5}, Change{Resources: Resources{CPUPeriod: 50000}}, Resources{CPUPeriod: 50000, CPUQuota: 150000}, ""},
		{"cpus with period", Resources{}, Change{Resources: Resources{CPUs: 1, CPUPeriod: 50000}}, Resources{}, "Conflicting options"},
		{"pids lifted", Resources{PidsLimit: 10}, Change{Resources: Resources{PidsLimit: -1}, PidsLimitSet: true}, Resources{}, ""},
		{"pids unchanged", Resources{PidsLimit: 10}, Change{Resources: Resources{CPUShares: 512}}, Resources{PidsLimit: 10, CPUShares: 512}, ""},
		{"reservation above memory", Resources{Memory: 64 << 20}, Change{Resources: Resources{MemoryReservation: 128 << 20}}, Resources{},
			"Minimum memory limit can not be less than memory reservation limit"},
		{"kept fields", Resources{AllDevices: true, OomKillDisable: true, MemorySwappiness: 5, MemorySwappinessSet: true},
			Change{Resources: Resources{BlkioWeight: 100, CpusetMems: "0", CpusetCpus: "1"}},
			Resources{AllDevices: true, OomKillDisable: true, MemorySwappiness: 5, MemorySwappinessSet: true, BlkioWeight: 100, CpusetMems: "0", CpusetCpus: "1"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Merge(tt.old, tt.ch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Merge = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("Merge = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestUpdateV1Memory: the memory and memory+swap limits land, rising and falling. (The order
// the kernel needs, memsw >= memory at every write, only a real cgroup checks:
// TestHostUpdate and TestUpdateRunning raise and lower real ones.)
func TestUpdateV1Memory(t *testing.T) {
	h := fakeV1(t, fakeOpts{})
	c, err := h.create("c1", Resources{Memory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.root, "memory", "strata", "c1")
	for _, r := range []Resources{
		{Memory: 256 << 20},                      // rises: memsw first
		{Memory: 32 << 20},                       // falls: memory first
		{Memory: 32 << 20, MemorySwap: -1},       // unlimited swap
		{Memory: 16 << 20, MemorySwap: 20 << 20}, // explicit
		{Memory: 512 << 20, MemorySwap: 1 << 30}, // both rise
		{Memory: math.MaxInt64},                  // twice wraps: no memsw limit, not -2
	} {
		if err := c.Update(r); err != nil {
			t.Fatalf("Update(%+v) = %v", r, err)
		}
		total, _ := r.swapTotal()
		if total < 0 {
			total = -1
		}
		if got := readFake(t, filepath.Join(dir, "memory.limit_in_bytes")); got != itoa(r.Memory) {
			t.Errorf("after %+v: memory.limit_in_bytes = %s", r, got)
		}
		if got := readFake(t, filepath.Join(dir, "memory.memsw.limit_in_bytes")); got != itoa(total) {
			t.Errorf("after %+v: memory.memsw.limit_in_bytes = %s, want %d", r, got, total)
		}
	}
}

// TestUpdateV1Grows: a container made without a cpu or cpuset directory gets one when an
// update sets a CPU limit, with its process moved in, and Delete removes it even from a
// Cgroup loaded before (the monitor's).
func TestUpdateV1Grows(t *testing.T) {
	h := fakeV1(t, fakeOpts{})
	c, err := h.create("c1", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(h.root, "memory", "strata", "c1", "cgroup.procs"), "4242\n")
	if _, err := os.Stat(filepath.Join(h.root, "cpu", "strata", "c1")); !os.IsNotExist(err) {
		t.Fatalf("cpu dir made without a cpu limit: %v", err)
	}
	other, err := h.load("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Update(Resources{CPUs: 0.5, CpusetCpus: "1"}); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"cpu/cpu.cfs_quota_us":  "50000",
		"cpu/cgroup.procs":      "4242",
		"cpuset/cpuset.cpus":    "1",
		"cpuset/cpuset.mems":    "0",
		"cpuset/cgroup.procs":   "4242",
		"cpu/cpu.cfs_period_us": "100000",
	} {
		ctrl, f, _ := strings.Cut(file, "/")
		if got := readFake(t, filepath.Join(h.root, ctrl, "strata", "c1", f)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	other.Release()
	for _, ctrl := range []string{"memory", "cpu", "cpuset"} {
		mustWrite(t, filepath.Join(h.root, ctrl, "strata", "c1", "cgroup.procs"), "")
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	if left := dirsUnder(t, h.root); strings.Contains(strings.Join(left, " "), "c1") {
		t.Errorf("left behind: %v", left)
	}
}

// TestUpdateV2: the new limits land in the v2 files; a lifted pids limit is "max".
func TestUpdateV2(t *testing.T) {
	h := fakeV2(t, fakeOpts{})
	c, err := h.create("c1", Resources{Memory: 64 << 20, PidsLimit: 10, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := Resources{Memory: 128 << 20, MemorySwap: -1, CPUQuota: 30000, CPUPeriod: 60000, CPUShares: 2, CpusetCpus: "0-1", BlkioWeight: 1000, MemoryReservation: 64 << 20}
	if err := c.Update(r); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.root, "strata", "c1")
	for file, want := range map[string]string{
		"memory.max": "134217728", "memory.swap.max": "max", "cpu.max": "30000 60000", "cpu.weight": "1",
		"cpuset.cpus": "0-1", "io.weight": "10000", "memory.low": "67108864", "pids.max": "max",
	} {
		if got := readFake(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if err := c.Update(Resources{CpusetCpus: "7"}); err == nil || !errors.Is(err, ErrUnsupported) {
		t.Errorf("Update to a CPU the host lacks = %v, want ErrUnsupported", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
