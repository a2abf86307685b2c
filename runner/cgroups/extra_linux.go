package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/strata-run/strata/internal/quote"
)

// setCPUV1 writes r's CFS bandwidth and shares into the v1 cpu directory dir. The period goes
// first: a quota is judged against the period it is written under.
func setCPUV1(dir string, r Resources) error {
	quota, period := r.cfs()
	if period > 0 {
		if err := set(dir, "cpu.cfs_period_us", strconv.FormatInt(period, 10), "cpu period", "CFS bandwidth control"); err != nil {
			return err
		}
	}
	if quota != 0 {
		if err := set(dir, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10), "cpu quota", "CFS bandwidth control"); err != nil {
			return err
		}
	}
	if r.CPUShares > 0 {
		if err := set(dir, "cpu.shares", strconv.FormatUint(r.CPUShares, 10), "cpu shares", "cpu controller"); err != nil {
			return err
		}
	}
	return nil
}

// applyExtraV1 writes the memory reservation, swappiness, OOM-killer switch and block I/O
// weight of r (need finds a controller's directory or says it is not mounted).
func (c *Cgroup) applyExtraV1(r Resources, need func(string) (string, error)) error {
	if r.MemoryReservation > 0 || r.MemorySwappinessSet || r.OomKillDisable {
		dir, err := need("memory")
		if err != nil {
			return err
		}
		if r.MemoryReservation > 0 {
			if err := set(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(r.MemoryReservation, 10), "memory reservation", "memory controller"); err != nil {
				return err
			}
		}
		if r.MemorySwappinessSet {
			if err := set(dir, "memory.swappiness", strconv.FormatInt(r.MemorySwappiness, 10), "memory swappiness", "memory controller"); err != nil {
				return err
			}
		}
		if r.OomKillDisable {
			if err := set(dir, "memory.oom_control", "1", "oom-kill-disable", "memory controller"); err != nil {
				return err
			}
		}
	}
	if r.BlkioWeight > 0 {
		dir, err := need("blkio")
		if err != nil {
			return err
		}
		if err := setWeight(dir, "blkio.bfq.weight", "blkio.weight", uint64(r.BlkioWeight), uint64(r.BlkioWeight)); err != nil {
			return err
		}
	}
	if len(r.BlkioWeightDevice) > 0 {
		dir, err := need("blkio")
		if err != nil {
			return err
		}
		for _, d := range r.BlkioWeightDevice {
			if err := setDeviceWeight(dir, "blkio.bfq.weight_device", "blkio.weight_device", d, d.Weight); err != nil {
				return err
			}
		}
	}
	if r.hasThrottles() {
		dir, err := need("blkio")
		if err != nil {
			return err
		}
		for _, t := range r.throttles() {
			for _, d := range t.devices {
				if err := set(dir, t.v1File, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate), "block I/O limit of "+quote.Value(d.Path), "blkio throttling"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// setWeight writes a block I/O weight to the BFQ scheduler's file, else to the generic one
// (as runc prefers them); neither there means no scheduler of this host weighs I/O by cgroup,
// and the weight could not be enforced.
func setWeight(dir, bfqFile, file string, bfq, generic uint64) error {
	err := writeFile(dir, bfqFile, strconv.FormatUint(bfq, 10))
	if !isNotExist(err) {
		if err != nil {
			return fmt.Errorf("setting blkio weight to %d: %w", bfq, err)
		}
		return nil
	}
	err = writeFile(dir, file, strconv.FormatUint(generic, 10))
	if isNotExist(err) {
		return fmt.Errorf("setting blkio weight: %w: no I/O scheduler of this host weighs I/O by cgroup (no %s or %s in %s: use the bfq scheduler)",
			ErrUnsupported, bfqFile, file, filepath.Dir(dir))
	}
	if err != nil {
		return fmt.Errorf("setting blkio weight to %d: %w", generic, err)
	}
	return nil
}

// setDeviceWeight writes d's weight to the BFQ scheduler's per-device file, else to the
// generic one (v1's blkio.weight_device, v2's io.weight, where it is generic), as setWeight
// does the container's own: "MAJOR:MINOR WEIGHT".
func setDeviceWeight(dir, bfqFile, file string, d WeightDevice, generic uint16) error {
	what := "blkio weight of " + quote.Value(d.Path)
	err := writeFile(dir, bfqFile, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Weight))
	if errors.Is(err, syscall.EOPNOTSUPP) {
		// The BFQ cgroup files are there (bfq is loaded) but the device is not on bfq.
		return fmt.Errorf("setting %s: %w: the device's I/O scheduler does not weigh I/O by cgroup (%s refused it: put the device on the bfq scheduler)",
			what, ErrUnsupported, bfqFile)
	}
	if !isNotExist(err) {
		if err != nil {
			return fmt.Errorf("setting %s to %d: %w", what, d.Weight, err)
		}
		return nil
	}
	err = writeFile(dir, file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, generic))
	if isNotExist(err) {
		return fmt.Errorf("setting %s: %w: no I/O scheduler of this host weighs I/O by cgroup (no %s or %s in %s: use the bfq scheduler)",
			what, ErrUnsupported, bfqFile, file, filepath.Dir(dir))
	}
	if err != nil {
		return fmt.Errorf("setting %s to %d: %w", what, d.Weight, err)
	}
	return nil
}

// applyExtraV2 is applyExtraV1 on v2. Swappiness and the OOM-killer switch have no v2 file:
// the command drops them with docker's warning before they are recorded, so here they are
// never asked for.
func (c *Cgroup) applyExtraV2(r Resources) error {
	dir := c.dir
	if r.MemoryReservation > 0 {
		if err := set(dir, "memory.low", strconv.FormatInt(r.MemoryReservation, 10), "memory reservation", "memory controller not enabled"); err != nil {
			return err
		}
	}
	if r.CpusetMems != "" {
		if err := checkMems(filepath.Dir(dir), "cpuset.mems.effective", r.CpusetMems); err != nil {
			return err
		}
		if err := set(dir, "cpuset.mems", r.CpusetMems, "cpuset mems", "cpuset controller not enabled"); err != nil {
			return err
		}
	}
	if r.BlkioWeight > 0 {
		if _, err := readFile(dir, "io.stat"); isNotExist(err) {
			return fmt.Errorf("setting blkio weight: %w: io controller not enabled (no io.stat)", ErrUnsupported)
		}
		if err := setWeight(dir, "io.bfq.weight", "io.weight", uint64(r.BlkioWeight), blkioToIOWeight(r.BlkioWeight)); err != nil {
			return err
		}
	}
	if len(r.BlkioWeightDevice) > 0 {
		if _, err := readFile(dir, "io.stat"); isNotExist(err) {
			return fmt.Errorf("setting blkio weight device: %w: io controller not enabled (no io.stat)", ErrUnsupported)
		}
		for _, d := range r.BlkioWeightDevice {
			if err := setDeviceWeight(dir, "io.bfq.weight", "io.weight", d, uint16(blkioToIOWeight(d.Weight))); err != nil {
				return err
			}
		}
	}
	// Before the write: the kernel's refusal would be a bare ERANGE.
	if err := r.checkZeroRatesV2(); err != nil {
		return err
	}
	for _, t := range r.throttles() {
		for _, d := range t.devices {
			if err := set(dir, "io.max", fmt.Sprintf("%d:%d %s=%d", d.Major, d.Minor, t.v2Key, d.Rate), "block I/O limit of "+quote.Value(d.Path), "io controller not enabled"); err != nil {
				return err
			}
		}
	}
	return nil
}

// cpuMaxV2 is the cpu.max value for r, "" for none: "quota period", "max period" for a
// period alone, or the quota alone (the kernel keeps the period).
func cpuMaxV2(r Resources) string {
	quota, period := r.cfs()
	q := "max"
	if quota > 0 {
		q = strconv.FormatInt(quota, 10)
	}
	switch {
	case period > 0:
		return q + " " + strconv.FormatInt(period, 10)
	case quota != 0:
		return q
	}
	return ""
}

// checkMems errors unless every memory node of want is in the nodes parentDir/file allows,
// in docker's words.
func checkMems(parentDir, file, want string) error {
	req, err := parseMemList(want)
	if err != nil {
		return err
	}
	allowedStr, err := readTrim(parentDir, file)
	if err != nil {
		if isNotExist(err) {
			return fmt.Errorf("setting cpuset mems: %w: cpuset controller not enabled (no %s)", ErrUnsupported, file)
		}
		return fmt.Errorf("reading allowed memory nodes: %w", err)
	}
	allowed, err := parseCPUList(allowedStr)
	if err != nil {
		return fmt.Errorf("reading allowed memory nodes from %s: %w", filepath.Join(parentDir, file), err)
	}
	if miss := req.missing(allowed); miss != "" {
		return fmt.Errorf("setting cpuset mems: %w: Requested memory nodes are not available - requested %s, available: %s", ErrUnsupported, want, allowedStr)
	}
	return nil
}
