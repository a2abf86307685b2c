package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// Update applies r, a running container's whole new limits (Merge), to its cgroup. On v1 a
// container made without a cpu or cpuset directory (no such limit then) gets one, and its
// processes are moved in. Lowering the memory limit below what the container uses fails when
// the kernel cannot reclaim enough (v1's EBUSY); on v2 the kernel reclaims, then OOM-kills.
func (c *Cgroup) Update(r Resources) error {
	if err := r.Validate(); err != nil {
		return err
	}
	// Not wrapped in the cgroup's name: the caller names the container, and each error
	// names what failed (a limit, a file).
	if c.dir != "" {
		return c.updateV2(r)
	}
	return c.updateV1(r)
}

func (c *Cgroup) updateV2(r Resources) error {
	dir := c.dir
	if r.Memory > 0 {
		if err := set(dir, "memory.max", strconv.FormatInt(r.Memory, 10), "memory limit", "memory controller not enabled"); err != nil {
			return err
		}
	}
	if total, implicit := r.swapTotal(); total != 0 {
		v := "max"
		if total > 0 {
			v = strconv.FormatInt(total-r.Memory, 10)
		}
		err := set(dir, "memory.swap.max", v, "memory+swap limit", "swap accounting is off")
		if err != nil && !((implicit || total < 0) && errors.Is(err, ErrUnsupported)) {
			return err
		}
	}
	if v := cpuMaxV2(r); v != "" {
		if err := set(dir, "cpu.max", v, "cpu quota", "cpu controller not enabled"); err != nil {
			return err
		}
	}
	if r.CPUShares > 0 {
		if err := set(dir, "cpu.weight", strconv.FormatUint(sharesToWeight(r.CPUShares), 10), "cpu weight", "cpu controller not enabled"); err != nil {
			return err
		}
	}
	if r.CpusetCpus != "" {
		if err := checkCpuset(filepath.Dir(dir), "cpuset.cpus.effective", r.CpusetCpus); err != nil {
			return err
		}
		if err := set(dir, "cpuset.cpus", r.CpusetCpus, "cpuset cpus", "cpuset controller not enabled"); err != nil {
			return err
		}
	}
	if err := setPids(dir, r.PidsLimit, "pids controller not enabled"); err != nil {
		return err
	}
	return c.applyExtraV2(r)
}

// setPids writes pids.max: the limit, or "max" for none, which needs no controller.
func setPids(dir string, limit int64, hint string) error {
	if limit > 0 {
		return set(dir, "pids.max", strconv.FormatInt(limit, 10), "pids limit", hint)
	}
	if err := writeFile(dir, "pids.max", "max"); err != nil && !isNotExist(err) {
		return fmt.Errorf("lifting pids limit: %w", err)
	}
	return nil
}

func (c *Cgroup) updateV1(r Resources) error {
	need := func(ctrl string) (string, error) {
		if d := c.ctrls[ctrl]; d != "" {
			return d, nil
		}
		return "", fmt.Errorf("%w: the %s controller is not mounted", ErrUnsupported, ctrl)
	}
	if r.Memory > 0 || r.MemorySwap != 0 {
		dir, err := need("memory")
		if err != nil {
			return err
		}
		if err := updateMemoryV1(dir, r); err != nil {
			return err
		}
	}
	if r.wantsCPU() {
		dir, err := c.growV1("cpu", r)
		if err != nil {
			return err
		}
		if err := setCPUV1(dir, r); err != nil {
			return err
		}
	}
	if r.wantsCpuset() {
		dir, err := c.growV1("cpuset", r)
		if err != nil {
			return err
		}
		// Both written again, whether growV1 just made the directory or not: mems before
		// cpus never leaves the cpuset empty.
		if r.CpusetMems != "" {
			if err := checkMems(filepath.Dir(dir), "cpuset.mems", r.CpusetMems); err != nil {
				return err
			}
			if err := set(dir, "cpuset.mems", r.CpusetMems, "cpuset mems", "cpuset controller"); err != nil {
				return err
			}
		}
		if r.CpusetCpus != "" {
			if err := checkCpuset(filepath.Dir(dir), "cpuset.cpus", r.CpusetCpus); err != nil {
				return err
			}
			if err := set(dir, "cpuset.cpus", r.CpusetCpus, "cpuset cpus", "cpuset controller"); err != nil {
				return err
			}
		}
	}
	if d := c.ctrls["pids"]; d != "" || r.PidsLimit > 0 {
		dir, err := need("pids")
		if err != nil {
			return err
		}
		if err := setPids(dir, r.PidsLimit, "pids controller"); err != nil {
			return err
		}
	}
	// Swappiness and --oom-kill-disable are not update flags; rewritten as recorded.
	return c.applyExtraV1(r, need)
}

// updateMemoryV1 writes a new memory and memory+swap limit. The kernel keeps memsw >= memory
// at every write, so the memsw limit goes first when it is at least the current memory limit
// (it rises), else the memory limit goes first (both fall).
func updateMemoryV1(dir string, r Resources) error {
	total, implicit := r.swapTotal()
	setMem := func() error {
		if r.Memory <= 0 {
			return nil
		}
		err := set(dir, "memory.limit_in_bytes", strconv.FormatInt(r.Memory, 10), "memory limit", "memory controller")
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("setting memory limit to %d bytes: the container uses more memory than that, and the kernel could not reclaim enough (%w)", r.Memory, unix.EBUSY)
		}
		return err
	}
	setSwap := func() error {
		if total == 0 {
			return nil
		}
		err := set(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(total, 10), "memory+swap limit",
			"swap accounting is off, boot with swapaccount=1")
		switch {
		case err != nil && (implicit || total < 0) && errors.Is(err, ErrUnsupported):
			return nil
		case errors.Is(err, unix.EBUSY):
			return fmt.Errorf("setting memory+swap limit to %d bytes: the container uses more than that, and the kernel could not reclaim enough (%w)", total, unix.EBUSY)
		}
		return err
	}
	cur, err := readInt(dir, "memory.limit_in_bytes")
	if err != nil {
		return fmt.Errorf("reading memory limit: %w", err)
	}
	if total < 0 || total >= cur {
		if err := setSwap(); err != nil {
			return err
		}
		return setMem()
	}
	if err := setMem(); err != nil {
		return err
	}
	return setSwap()
}

// growV1 returns the container's directory in v1 controller ctrl, making it if the container
// was made without one (wantV1) and moving the container's processes into it. The processes
// are moved until none is left behind: one forked during a move lands in the old cgroup.
func (c *Cgroup) growV1(ctrl string, r Resources) (string, error) {
	c.mu.Lock()
	d := c.ctrls[ctrl]
	c.mu.Unlock()
	if d != "" {
		return d, nil
	}
	i := slices.IndexFunc(c.h.mounts, func(m mount) bool { return slices.Contains(m.ctrls, ctrl) })
	if i < 0 {
		return "", fmt.Errorf("%w: the %s controller is not mounted", ErrUnsupported, ctrl)
	}
	m := c.h.mounts[i]
	dir, err := c.h.mkdirUnder(m.dir, c.parent, c.name, m.ctrls)
	if err != nil {
		return "", err
	}
	undo := func(err error) (string, error) {
		_ = c.h.rmdir(dir)
		return "", err
	}
	if slices.Contains(m.ctrls, "cpuset") {
		if err := fillCpuset(dir, r.CpusetCpus, r.CpusetMems); err != nil {
			return undo(err)
		}
	}
	if slices.Contains(m.ctrls, "cpu") {
		if err := setCPUV1(dir, r); err != nil {
			return undo(err)
		}
	}
	from := c.Path()
	for range 100 {
		pids, err := readPids(from)
		if err != nil {
			return undo(fmt.Errorf("moving the container's processes: %w", err))
		}
		in, err := readPids(dir)
		if err != nil {
			return undo(fmt.Errorf("moving the container's processes: %w", err))
		}
		moved := 0
		for _, pid := range pids {
			if slices.Contains(in, pid) {
				continue
			}
			// A process gone meanwhile is ESRCH: nothing to move.
			if err := writeFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil && !errors.Is(err, unix.ESRCH) {
				return undo(fmt.Errorf("moving process %d into %s: %w", pid, dir, err))
			}
			moved++
		}
		if moved == 0 {
			c.mu.Lock()
			c.dirs = append(c.dirs, dir)
			for _, ctl := range m.ctrls {
				c.ctrls[ctl] = dir
			}
			c.mu.Unlock()
			return dir, nil
		}
	}
	return undo(fmt.Errorf("moving the container's processes into %s: they fork faster than they can be moved", dir))
}
