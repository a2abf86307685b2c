package cgroups

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestHostUpdate updates a real cgroup: memory raised far above the memory+swap limit and
// lowered far below it (the kernel refuses either write in the wrong order), a CPU quota on a
// v1 cgroup made without a cpu directory (made, the process moved in), and the new files read
// back from the kernel.
func TestHostUpdate(t *testing.T) {
	h := hostHierarchy(t)
	c := newHost(t, h, "upd", Resources{Memory: 64 << 20})
	cmd := startGated(t, c, "sleep 600")
	for _, r := range []Resources{
		{Memory: 512 << 20},                    // memsw (2x) rises first
		{Memory: 16 << 20},                     // memory falls first
		{Memory: 32 << 20, MemorySwap: -1},     // unlimited swap
		{Memory: 1 << 30, MemorySwap: 2 << 30}, // both far up
		{Memory: 8 << 20, MemorySwap: 8 << 20}, // both far down
		{Memory: 8 << 20, MemoryReservation: 7 << 20, CPUs: 0.5, PidsLimit: 9},
	} {
		if err := c.Update(r); err != nil {
			t.Fatalf("Update(%+v) = %v", r, err)
		}
		lim, err := c.Limits()
		if err != nil {
			t.Fatal(err)
		}
		if lim.Memory != r.Memory {
			t.Errorf("after Update(%+v): memory limit %d", r, lim.Memory)
		}
	}
	if h.mode == modeV2 {
		return
	}
	cpu := c.ctrls["cpu"]
	if cpu == "" {
		t.Fatal("no cpu directory after an update with a CPU limit")
	}
	if got, _ := readTrim(cpu, "cpu.cfs_quota_us"); got != "50000" {
		t.Errorf("cpu.cfs_quota_us = %q", got)
	}
	procs, _ := readTrim(cpu, "cgroup.procs")
	if !strings.Contains(procs, strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("cpu cgroup.procs = %q, want %d moved in", procs, cmd.Process.Pid)
	}
	if got, _ := readTrim(c.ctrls["memory"], "memory.soft_limit_in_bytes"); got != strconv.Itoa(7<<20) {
		t.Errorf("memory.soft_limit_in_bytes = %q", got)
	}
	if filepath.Base(cpu) != "upd" {
		t.Errorf("cpu directory %s", cpu)
	}
}
