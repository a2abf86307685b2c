package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// createV1 makes <mount>/strata/<name> in every mounted controller r needs (wantV1) and
// applies r. On a hybrid host it also makes a node in the unified tree: it holds no limits,
// but its cgroup.kill kills the whole container atomically.
func (c *Cgroup) createV1(r Resources) error {
	h := c.h
	if len(h.mounts) == 0 {
		return fmt.Errorf("%w: no cgroup v1 controllers are mounted under %s", ErrUnsupported, h.root)
	}
	c.ctrls = map[string]string{}
	for _, m := range h.mounts {
		if !slices.ContainsFunc(m.ctrls, func(ctrl string) bool { return wantV1(ctrl, r) }) {
			continue
		}
		dir, err := h.mkdirUnder(m.dir, c.parent, c.name, m.ctrls)
		if err != nil {
			return err
		}
		c.dirs = append(c.dirs, dir)
		for _, ctrl := range m.ctrls {
			c.ctrls[ctrl] = dir
		}
	}
	if d := c.ctrls["cpuset"]; d != "" {
		// Filled before anything else: no task can join an empty v1 cpuset.
		if err := fillCpuset(d, r.CpusetCpus, r.CpusetMems); err != nil {
			return err
		}
	}
	if h.unified != "" {
		// Best effort: without it Kill falls back to the freezer, so a read-only or full
		// unified tree must not fail the container.
		if dir, err := h.mkdirUnder(h.unified, c.parent, c.name, nil); err == nil {
			c.unified = dir
			c.dirs = append(c.dirs, dir)
		} else if errors.Is(err, ErrExists) {
			return err
		}
	}
	return c.applyV1(r)
}

// wantV1 reports whether a container with limits r gets a directory in v1 controller ctrl.
// cpu and cpuset are made only for their limits: a cpu cgroup costs the kernel ~150 µs to make
// (per-CPU scheduler entities), and a cpuset needs CPUs and memory nodes filled in. The others
// are always made: memory for OOM detection and usage, pids, cpuacct and blkio for Stats,
// freezer for Kill, devices to confine the container to DefaultDevices. (blkio costs a mkdir
// and the init's write to its tasks file, a few µs: see JoinThread.)
func wantV1(ctrl string, r Resources) bool {
	switch ctrl {
	case "cpu":
		return r.wantsCPU()
	case "cpuset":
		return r.wantsCpuset()
	}
	return true
}

// mkdirUnder makes mountDir/parent/name (parent is strata's, or a --cgroup-parent), making
// the parent first if it is missing. The child mkdir is tried first because the parent almost
// always exists already.
func (h *hierarchy) mkdirUnder(mountDir, parent, name string, ctrls []string) (string, error) {
	dir := filepath.Join(mountDir, parent, name)
	err := h.mkdir(dir)
	if isNotExist(err) {
		if err := h.makeParentV1(mountDir, parent, ctrls); err != nil {
			return "", err
		}
		err = h.mkdir(dir)
	}
	if isExist(err) {
		return "", ErrExists
	}
	if err != nil {
		return "", fmt.Errorf("making %s: %w", dir, err)
	}
	return dir, nil
}

// makeParentV1 makes the parent rel (strata's, or a --cgroup-parent, a path of one or more
// directories) in the v1 mount at mountDir, which holds ctrls, where it is missing.
func (h *hierarchy) makeParentV1(mountDir, rel string, ctrls []string) error {
	parent := mountDir
	for _, part := range strings.Split(rel, "/") {
		parent = filepath.Join(parent, part)
		if err := h.makeParentDirV1(parent, ctrls); err != nil {
			return err
		}
	}
	return nil
}

// makeParentDirV1 makes one directory of a parent, if it is missing.
func (h *hierarchy) makeParentDirV1(parent string, ctrls []string) error {
	if err := h.mkdir(parent); err != nil {
		if isExist(err) {
			return nil
		}
		return fmt.Errorf("making %s: %w", parent, err)
	}
	if slices.Contains(ctrls, "cpuset") {
		// A new v1 cpuset starts with no CPUs and no memory nodes, and no task can join
		// it until both are set. clone_children makes the kernel copy the parent's into
		// every child strata makes later, saving those writes on each run.
		if err := fillCpuset(parent, "", ""); err != nil {
			return err
		}
		if err := writeFile(parent, "cgroup.clone_children", "1"); err != nil {
			return fmt.Errorf("setting up cpuset parent: %w", err)
		}
	}
	return nil
}

// fillCpuset gives a v1 cpuset directory its CPUs (cpus, or the parent's when "") and memory
// nodes (mems, or the parent's when ""), unless clone_children already did. A parent that is empty itself (just
// made by another strata process that has not filled it yet) is filled first, from its own
// parent; the mount's root always lists every CPU and node, which ends the recursion.
func fillCpuset(dir, cpus, mems string) error {
	parent := filepath.Dir(dir)
	var from [2]string
	for i, file := range []string{"cpuset.cpus", "cpuset.mems"} {
		v, err := readTrim(parent, file)
		if err == nil && v == "" {
			if err = fillCpuset(parent, "", ""); err == nil {
				v, err = readTrim(parent, file)
			}
		}
		if err != nil {
			return fmt.Errorf("setting up cpuset: %w", err)
		}
		from[i] = v
	}
	if cpus != "" {
		// v1 (without the cpuset_v2_mode mount option) keeps effective_cpus equal to cpus, so
		// the parent's cpuset.cpus is what a child may use.
		if err := checkCpuset(parent, "cpuset.cpus", cpus); err != nil {
			return err
		}
		if err := writeFile(dir, "cpuset.cpus", cpus); err != nil {
			return fmt.Errorf("setting cpuset cpus to %s: %w", cpus, err)
		}
	}
	if mems != "" {
		if err := checkMems(parent, "cpuset.mems", mems); err != nil {
			return err
		}
		if err := writeFile(dir, "cpuset.mems", mems); err != nil {
			return fmt.Errorf("setting cpuset mems to %s: %w", mems, err)
		}
	}
	for i, file := range []string{"cpuset.cpus", "cpuset.mems"} {
		if i == 0 && cpus != "" || i == 1 && mems != "" {
			continue
		}
		cur, err := readTrim(dir, file)
		if err != nil {
			return fmt.Errorf("setting up cpuset: %w", err)
		}
		if cur != "" {
			continue
		}
		if err := writeFile(dir, file, from[i]); err != nil {
			return fmt.Errorf("setting up cpuset: %w", err)
		}
	}
	return nil
}

// applyV1 writes r's limits into the controllers' directories. A limit whose controller is
// not mounted, or whose file is missing, is ErrUnsupported.
func (c *Cgroup) applyV1(r Resources) error {
	need := func(ctrl string) (string, error) {
		if d := c.ctrls[ctrl]; d != "" {
			return d, nil
		}
		return "", fmt.Errorf("%w: the %s controller is not mounted", ErrUnsupported, ctrl)
	}
	if r.Memory > 0 || r.MemorySwap > 0 {
		dir, err := need("memory")
		if err != nil {
			return err
		}
		// memory first: the kernel keeps memsw >= memory, and a fresh cgroup has both
		// unlimited, so raising memsw afterwards always satisfies it.
		if err := set(dir, "memory.limit_in_bytes", strconv.FormatInt(r.Memory, 10), "memory limit", "memory controller"); err != nil {
			return err
		}
		if total, implicit := r.swapTotal(); total > 0 {
			err := set(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(total, 10), "memory+swap limit",
				"swap accounting is off, boot with swapaccount=1")
			if err != nil && !(implicit && errors.Is(err, ErrUnsupported)) {
				return err
			}
		}
	}
	if r.wantsCPU() {
		dir, err := need("cpu")
		if err != nil {
			return err
		}
		if err := setCPUV1(dir, r); err != nil {
			return err
		}
	}
	if r.wantsCpuset() {
		if _, err := need("cpuset"); err != nil {
			return err
		}
		// createV1 wrote it already, with the directory.
	}
	if r.PidsLimit > 0 {
		dir, err := need("pids")
		if err != nil {
			return err
		}
		if err := set(dir, "pids.max", strconv.FormatInt(r.PidsLimit, 10), "pids limit", "pids controller"); err != nil {
			return err
		}
	}
	if err := c.applyExtraV1(r, need); err != nil {
		return err
	}
	return c.applyDevicesV1(r)
}
