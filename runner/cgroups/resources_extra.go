package cgroups

import (
	"fmt"
	"strconv"
	"strings"
)

// Bounds of the limits docker run added after --cpus and --memory, with docker's messages.
const (
	// minCFSPeriod and maxCFSPeriod bound --cpu-period, in µs (the kernel's and docker's).
	minCFSPeriod = 1000
	maxCFSPeriod = 1000000
	// minCFSQuota is the kernel's floor for a CFS quota, in µs.
	minCFSQuota = 1000
	// maxCFSQuota keeps a quota within what the kernel takes (it is stored in ns, shifted).
	maxCFSQuota = 1 << 40
	// minBlkioWeight and maxBlkioWeight bound --blkio-weight (v1 blkio.weight's range).
	minBlkioWeight = 10
	maxBlkioWeight = 1000
	// maxMemNode bounds memory node numbers in --cpuset-mems (MAX_NUMNODES is at most 1024).
	maxMemNode = 1023
)

// conflictError is docker's refusal of two limits given together; it matches ErrInvalid.
type conflictError string

func (e conflictError) Error() string { return "Conflicting options: " + string(e) }
func (e conflictError) Unwrap() error { return ErrInvalid }

// validateExtra is Validate for the fields added with docker's remaining cgroup flags.
func (r Resources) validateExtra() error {
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	switch {
	case r.CPUs > 0 && r.CPUPeriod != 0:
		return conflictError("Nano CPUs and CPU Period cannot both be set")
	case r.CPUs > 0 && r.CPUQuota != 0:
		return conflictError("Nano CPUs and CPU Quota cannot both be set")
	case r.CPUPeriod != 0 && (r.CPUPeriod < minCFSPeriod || r.CPUPeriod > maxCFSPeriod):
		return &ValueError{What: "cpu-period", Value: i64(r.CPUPeriod), Reason: "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"}
	case r.CPUQuota < -1 || (r.CPUQuota > 0 && r.CPUQuota < minCFSQuota):
		return &ValueError{What: "cpu-quota", Value: i64(r.CPUQuota), Reason: "CPU cfs quota can not be less than 1ms (i.e. 1000)"}
	case r.CPUQuota > maxCFSQuota:
		return &ValueError{What: "cpu-quota", Value: i64(r.CPUQuota), Reason: "out of range"}
	case r.MemoryReservation < 0:
		return &ValueError{What: "memory-reservation", Value: i64(r.MemoryReservation), Reason: "must not be negative"}
	case r.MemoryReservation > 0 && r.MemoryReservation < minMemory:
		return &ValueError{What: "memory-reservation", Value: i64(r.MemoryReservation), Reason: "Minimum memory reservation allowed is 6MB"}
	case r.Memory > 0 && r.MemoryReservation > r.Memory:
		return &ValueError{What: "memory-reservation", Value: i64(r.MemoryReservation), Reason: "Minimum memory limit can not be less than memory reservation limit, see usage"}
	case r.MemorySwappinessSet && (r.MemorySwappiness < 0 || r.MemorySwappiness > 100):
		return &ValueError{What: "memory-swappiness", Value: i64(r.MemorySwappiness), Reason: "valid memory swappiness range is 0-100"}
	case r.BlkioWeight != 0 && (r.BlkioWeight < minBlkioWeight || r.BlkioWeight > maxBlkioWeight):
		return &ValueError{What: "blkio-weight", Value: strconv.Itoa(int(r.BlkioWeight)), Reason: "Range of blkio weight is from 10 to 1000"}
	}
	for _, t := range r.throttles() {
		for _, d := range t.devices {
			// A device's numbers come from a stat; any other (a damaged config) is refused
			// before it reaches a cgroup file.
			if d.Major < 0 || d.Minor < 0 || d.Major > 1<<32-1 || d.Minor > 1<<32-1 {
				return &ValueError{What: "block I/O device", Value: fmt.Sprintf("%d:%d", d.Major, d.Minor), Reason: "not a device number"}
			}
		}
	}
	for _, d := range r.BlkioWeightDevice {
		if d.Major < 0 || d.Minor < 0 || d.Major > 1<<32-1 || d.Minor > 1<<32-1 {
			return &ValueError{What: "block I/O device", Value: fmt.Sprintf("%d:%d", d.Major, d.Minor), Reason: "not a device number"}
		}
		if d.Weight < minBlkioWeight || d.Weight > maxBlkioWeight {
			return &ValueError{What: "blkio-weight-device", Value: strconv.Itoa(int(d.Weight)), Reason: "Range of blkio weight is from 10 to 1000"}
		}
	}
	if err := ValidateCgroupParent(r.CgroupParent); err != nil {
		return err
	}
	if r.CpusetMems != "" {
		if _, err := parseMemList(r.CpusetMems); err != nil {
			return err
		}
	}
	return nil
}

// parseMemList parses a kernel list of memory nodes ("0-1,3"), as parseCPUList a CPU list.
func parseMemList(s string) (*cpuSet, error) {
	if strings.TrimSpace(s) == "" {
		return nil, &ValueError{What: "cpuset mems", Value: s, Reason: "no memory node in the list"}
	}
	set, err := parseCPUList(s)
	if ve, ok := err.(*ValueError); ok {
		ve.What = "cpuset mems"
		// A number past the CPUs' bound is a node here, not a "cpu 4294967295".
		ve.Reason = strings.Replace(ve.Reason, "cpu ", "node ", 1)
		return nil, ve
	}
	for n := maxMemNode + 1; n <= maxCPU; n++ {
		if set.has(n) {
			return nil, &ValueError{What: "cpuset mems", Value: s, Reason: "node " + strconv.Itoa(n) + " out of range"}
		}
	}
	return set, err
}

// wantsCPU reports whether r sets any CFS bandwidth or share (the cpu controller's limits).
func (r Resources) wantsCPU() bool {
	return r.CPUs > 0 || r.CPUShares > 0 || r.CPUPeriod != 0 || r.CPUQuota != 0
}

// wantsCpuset reports whether r narrows the CPUs or memory nodes.
func (r Resources) wantsCpuset() bool { return r.CpusetCpus != "" || r.CpusetMems != "" }

// cfs is the CFS quota and period to write, in µs: from CPUs, or --cpu-quota and --cpu-period
// (0 for either that was not given: the cgroup keeps its own). quota -1 is unlimited.
func (r Resources) cfs() (quota, period int64) {
	if r.CPUs > 0 {
		return r.quota(), cfsPeriod
	}
	return r.CPUQuota, r.CPUPeriod
}

// blkioToIOWeight converts a v1 blkio weight (10-1000) to v2 io.weight (1-10000), as runc's
// ConvertBlkIOToIOWeightValue.
func blkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (uint64(w)-10)*9999/990
}
