package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// createV2 makes <root>/strata/<name> with strata's controllers enabled and applies r.
func (c *Cgroup) createV2(r Resources) error {
	h := c.h
	parent := filepath.Join(h.root, c.parent)
	if err := h.prepareV2Parent(parent); err != nil {
		return err
	}
	dir := filepath.Join(parent, c.name)
	if err := h.mkdir(dir); err != nil {
		if isExist(err) {
			return ErrExists
		}
		return fmt.Errorf("making %s: %w", dir, err)
	}
	c.dir, c.dirs = dir, []string{dir}
	return c.applyV2(r)
}

// prepareV2Parent makes strata's parent and enables v2Controllers for its children. The no-
// internal-process rule of v2 allows this: the parent never holds processes itself. On the
// fast path (parent made by an earlier run) it costs one read.
func (h *hierarchy) prepareV2Parent(parent string) error {
	enabled, err := readFile(parent, "cgroup.subtree_control")
	switch {
	case err == nil && hasAll(fields(enabled), v2Controllers):
		return nil
	case err != nil && !isNotExist(err):
		return err
	}
	missing := err != nil
	avail, err := readFile(h.root, "cgroup.controllers")
	if err != nil {
		return err
	}
	have := fields(avail)
	// A controller must be on in every ancestor's subtree_control before a child can use it.
	// The root's goes first, so the parent is born with the controllers' files. One write per
	// controller: the kernel rejects a whole write for one refusal (cpu, while a realtime task
	// sits in the root, on older kernels), and a refused controller must only fail the
	// containers that ask for its limits, which the missing files then report.
	var enable []string
	for _, ctrl := range v2Controllers {
		if have[ctrl] && h.enable(h.root, ctrl) == nil {
			enable = append(enable, ctrl)
		}
	}
	// Each directory from the root down to the parent (one for strata's, more for a
	// --cgroup-parent such as "a/b"), made where missing and enabling the controllers.
	rel, err := filepath.Rel(h.root, parent)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup parent %s is not under %s", parent, h.root)
	}
	dir := h.root
	for _, part := range strings.Split(rel, "/") {
		dir = filepath.Join(dir, part)
		if missing || dir != parent {
			if err := h.mkdir(dir); err != nil && !isExist(err) {
				return fmt.Errorf("making %s: %w", dir, err)
			}
		}
		for _, ctrl := range enable {
			_ = h.enable(dir, ctrl)
		}
	}
	return nil
}

func hasAll(set map[string]bool, want []string) bool {
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

// applyV2 writes r's limits. Each file exists only when its controller is enabled, so a missing
// file means the host cannot enforce that limit.
func (c *Cgroup) applyV2(r Resources) error {
	dir := c.dir
	if r.Memory > 0 {
		if err := set(dir, "memory.max", strconv.FormatInt(r.Memory, 10), "memory limit", "memory controller not enabled"); err != nil {
			return err
		}
	}
	// v2 limits swap alone; docker's --memory-swap counts memory plus swap. For -1 there is
	// nothing to write: a fresh cgroup's memory.swap.max is already "max".
	if total, implicit := r.swapTotal(); total > 0 {
		err := set(dir, "memory.swap.max", strconv.FormatInt(total-r.Memory, 10), "memory+swap limit", "swap accounting is off")
		if err != nil && !(implicit && errors.Is(err, ErrUnsupported)) {
			return err
		}
	}
	if v := cpuMaxV2(r); v != "" {
		if err := set(dir, "cpu.max", v, "cpu quota", "cpu controller not enabled"); err != nil {
			return err
		}
	}
	if r.CPUShares > 0 {
		v := strconv.FormatUint(sharesToWeight(r.CPUShares), 10)
		if err := set(dir, "cpu.weight", v, "cpu weight", "cpu controller not enabled"); err != nil {
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
	if r.PidsLimit > 0 {
		if err := set(dir, "pids.max", strconv.FormatInt(r.PidsLimit, 10), "pids limit", "pids controller not enabled"); err != nil {
			return err
		}
	}
	if err := c.applyExtraV2(r); err != nil {
		return err
	}
	return c.applyDevicesV2(r)
}

// set writes one limit; a missing file becomes ErrUnsupported with hint saying why.
func set(dir, file, value, what, hint string) error {
	if err := writeFile(dir, file, value); err != nil {
		if isNotExist(err) {
			return fmt.Errorf("setting %s: %w: %s (no %s)", what, ErrUnsupported, hint, file)
		}
		return fmt.Errorf("setting %s to %s: %w", what, value, err)
	}
	return nil
}

// checkCpuset errors unless every CPU of want is in the CPUs parentDir/file allows: the kernel
// would refuse the write with a bare EINVAL, and the user deserves to see what is allowed.
func checkCpuset(parentDir, file, want string) error {
	req, err := parseCPUList(want)
	if err != nil {
		return err
	}
	allowedStr, err := readTrim(parentDir, file)
	if err != nil {
		if isNotExist(err) {
			return fmt.Errorf("setting cpuset cpus: %w: cpuset controller not enabled (no %s)", ErrUnsupported, file)
		}
		return fmt.Errorf("reading allowed cpus: %w", err)
	}
	allowed, err := parseCPUList(allowedStr)
	if err != nil {
		return fmt.Errorf("reading allowed cpus from %s: %w", filepath.Join(parentDir, file), err)
	}
	if miss := req.missing(allowed); miss != "" {
		return fmt.Errorf("setting cpuset cpus %q: %w: cpus %s are not available (allowed: %s)", want, ErrUnsupported, miss, allowedStr)
	}
	return nil
}
