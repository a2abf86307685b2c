package runner

import "github.com/strata-run/strata/runner/cgroups"

// inspectCgroupExtra fills docker's HostConfig fields of the cgroup flags beyond --memory,
// --cpus and --pids-limit. MemorySwappiness and OomKillDisable are null when not given (and
// on cgroup v2, which drops them as docker's daemon does).
func inspectCgroupExtra(h *InspectHostConfig, res cgroups.Resources) {
	h.CPUPeriod, h.CPUQuota = res.CPUPeriod, res.CPUQuota
	h.CpusetMems = res.CpusetMems
	h.MemoryReservation = res.MemoryReservation
	h.BlkioWeight = res.BlkioWeight
	for _, d := range res.BlkioWeightDevice {
		h.BlkioWeightDevice = append(h.BlkioWeightDevice, InspectWeightDevice{Path: d.Path, Weight: d.Weight})
	}
	for _, t := range []struct {
		dst *[]InspectThrottleDevice
		src []cgroups.ThrottleDevice
	}{{&h.BlkioDeviceReadBps, res.BlkioDeviceReadBps}, {&h.BlkioDeviceWriteBps, res.BlkioDeviceWriteBps},
		{&h.BlkioDeviceReadIOps, res.BlkioDeviceReadIOps}, {&h.BlkioDeviceWriteIOps, res.BlkioDeviceWriteIOps}} {
		for _, d := range t.src {
			*t.dst = append(*t.dst, InspectThrottleDevice{Path: d.Path, Rate: d.Rate})
		}
	}
	h.CgroupParent = res.CgroupParent
	if res.MemorySwappinessSet {
		v := res.MemorySwappiness
		h.MemorySwappiness = &v
	}
	if res.OomKillDisable {
		v := true
		h.OomKillDisable = &v
	}
}
