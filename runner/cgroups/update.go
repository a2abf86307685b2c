package cgroups

import "fmt"

// Change is a docker update of a container's limits: a zero field leaves that limit as it was
// (docker update's rule), except PidsLimit when PidsLimitSet, where 0 or -1 lifts the limit.
type Change struct {
	Resources
	PidsLimitSet bool
}

// Empty reports whether ch changes nothing: docker update refuses that.
func (ch Change) Empty() bool {
	return ch.Resources.Equal(Resources{}) && !ch.PidsLimitSet
}

// Merge returns old with ch applied, as docker's daemon merges an update into a container's
// limits, validated. --cpus replaces --cpu-period and --cpu-quota and either replaces --cpus,
// as in docker; a quota that --cpus had set stays recorded as the quota the kernel keeps.
func Merge(old Resources, ch Change) (Resources, error) {
	if err := ch.Resources.validateExtra(); err != nil {
		return old, err
	}
	r := old
	if ch.Memory > 0 {
		if old.MemorySwap > 0 && ch.MemorySwap == 0 && ch.Memory > old.MemorySwap {
			return old, fmt.Errorf("%w: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time", ErrInvalid)
		}
		r.Memory = ch.Memory
	}
	if ch.MemorySwap != 0 {
		r.MemorySwap = ch.MemorySwap
	}
	if ch.MemoryReservation > 0 {
		r.MemoryReservation = ch.MemoryReservation
	}
	switch {
	case ch.CPUs > 0:
		r.CPUs, r.CPUPeriod, r.CPUQuota = ch.CPUs, 0, 0
	case ch.CPUPeriod != 0 || ch.CPUQuota != 0:
		if old.CPUs > 0 {
			r.CPUs, r.CPUPeriod, r.CPUQuota = 0, cfsPeriod, old.quota()
		}
		if ch.CPUPeriod != 0 {
			r.CPUPeriod = ch.CPUPeriod
		}
		if ch.CPUQuota != 0 {
			r.CPUQuota = ch.CPUQuota
		}
		if r.CPUPeriod == cfsPeriod && ch.CPUPeriod == 0 {
			r.CPUPeriod = 0 // the kernel's default, as it was before --cpus
		}
	}
	if ch.CPUShares > 0 {
		r.CPUShares = ch.CPUShares
	}
	if ch.CpusetCpus != "" {
		r.CpusetCpus = ch.CpusetCpus
	}
	if ch.CpusetMems != "" {
		r.CpusetMems = ch.CpusetMems
	}
	if ch.PidsLimitSet {
		r.PidsLimit = max(ch.PidsLimit, 0)
	}
	if ch.BlkioWeight > 0 {
		r.BlkioWeight = ch.BlkioWeight
	}
	if err := r.Validate(); err != nil {
		return old, err
	}
	return r, nil
}

// Check refuses what ch's values alone make invalid, whatever the container's limits: a
// command checks it before it touches any container (Merge checks the rest).
func (ch Change) Check() error {
	r := ch.Resources
	if r.Memory == 0 && r.MemorySwap > 0 {
		r.MemorySwap = 0 // judged against the container's memory limit, by Merge
	}
	return r.Validate()
}
