package cgroups

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// CheckSupported refuses a limit of r whose controller this host's cgroups lack, as New would
// but before anything is made: a run or create asking for one failed only at the cgroup's
// creation, once the container existed (left created by run -d, exited 125 by run, made by
// create for every start to fail), with an error naming a cgroup the user never saw. On v2 a
// controller is there when the root's cgroup.controllers offers it (a v2 host whose memory or
// pids controller is off, or held by v1 hierarchies); on v1 and hybrid hosts when a hierarchy
// of it is mounted. What only a made cgroup tells (swap accounting, a controller offered but
// refused when enabled) New still finds. It reads one file on v2, and nothing without limits.
func CheckSupported(r Resources) error { return host().checkSupported(r) }

// limitControllers lists, in the order New applies them, the limits r asks for with the
// controller each needs (the same conditions as applyV2 and applyV1).
func limitControllers(r Resources, v2 bool) (what, ctrls []string) {
	add := func(ok bool, w, c string) {
		if ok {
			what, ctrls = append(what, w), append(ctrls, c)
		}
	}
	add(r.Memory > 0, "memory limit", "memory")
	add(r.MemorySwap > 0 && r.Memory == 0, "memory+swap limit", "memory")
	add(r.MemoryReservation > 0, "memory reservation", "memory")
	add(r.MemorySwappinessSet, "memory swappiness", "memory")
	add(r.OomKillDisable, "oom-kill-disable", "memory")
	add(r.CPUs > 0 || r.CPUQuota != 0, "cpu quota", "cpu")
	add(r.CPUPeriod != 0, "cpu period", "cpu")
	add(r.CPUShares > 0, "cpu shares", "cpu")
	add(r.CpusetCpus != "", "cpuset cpus", "cpuset")
	add(r.CpusetMems != "", "cpuset mems", "cpuset")
	add(r.PidsLimit > 0, "pids limit", "pids")
	io := "blkio"
	if v2 {
		io = "io"
	}
	add(r.BlkioWeight > 0, "blkio weight", io)
	add(r.hasThrottles(), "block I/O limit", io)
	add(len(r.BlkioWeightDevice) > 0, "blkio weight device", io)
	return what, ctrls
}

func (h *hierarchy) checkSupported(r Resources) error {
	what, ctrls := limitControllers(r, h.mode == modeV2)
	if len(ctrls) == 0 {
		return nil
	}
	switch h.mode {
	case modeV2:
		avail, err := readFile(h.root, "cgroup.controllers")
		if err != nil {
			return nil // New says what is wrong
		}
		have := fields(avail)
		for i, ctrl := range ctrls {
			if !have[ctrl] {
				offered := strings.Join(strings.Fields(avail), " ")
				if offered == "" {
					offered = "none"
				}
				return fmt.Errorf("setting %s: %w: the %s controller is not available (%s offers: %s)",
					what[i], ErrUnsupported, ctrl, filepath.Join(h.root, "cgroup.controllers"), offered)
			}
		}
		return r.checkZeroRatesV2()
	case modeV1, modeHybrid:
		for i, ctrl := range ctrls {
			if !slices.ContainsFunc(h.mounts, func(m mount) bool { return slices.Contains(m.ctrls, ctrl) }) {
				return fmt.Errorf("setting %s: %w: the %s controller is not mounted", what[i], ErrUnsupported, ctrl)
			}
		}
	}
	return nil
}
