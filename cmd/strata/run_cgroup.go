package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/strata-run/strata/runner/cgroups"
)

// cgroupOpts are docker run's cgroup flags beyond --memory, --cpus, --cpu-shares,
// --cpuset-cpus and --pids-limit.
type cgroupOpts struct {
	cpuPeriod         int64
	cpuQuota          int64
	cpusetMems        string
	memoryReservation string
	// memorySwappiness is -1 when not given, as docker's flag.
	memorySwappiness int64
	oomKillDisable   bool
	blkioWeight      uint16
	cgroupParent     string
	// reservationSet: --memory-reservation was given, if only as "".
	reservationSet bool
	// warned: resources runs twice in a run, and warns once.
	warned bool
}

// addCgroupFlags adds cgroupOpts' flags, docker's names and value syntax.
func addCgroupFlags(f *pflag.FlagSet, o *cgroupOpts) {
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "CPU CFS period in µs (1000-1000000)")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "CPU CFS quota in µs per period (at least 1000; -1 unlimited)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "memory nodes the container may use (e.g. 0-1)")
	f.StringVar(&o.memoryReservation, "memory-reservation", "", "memory soft limit (e.g. 256m)")
	f.Int64Var(&o.memorySwappiness, "memory-swappiness", -1, "swappiness of the container's memory (0-100; cgroup v1 only)")
	f.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "disable the OOM killer for the container (cgroup v1 only)")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "relative block I/O weight (10-1000)")
	f.StringVar(&o.cgroupParent, "cgroup-parent", "", "cgroup to make the container's in: a path under strata's own, or absolute")
}

// apply puts the flags into r; a value given as "" is refused as docker refuses it. On cgroup
// v2, which has no knob for them, swappiness and --oom-kill-disable are dropped with docker's
// warnings on w, as dockerd drops them (never written, never recorded).
func (o *cgroupOpts) apply(r *cgroups.Resources, w io.Writer) error {
	r.CPUPeriod, r.CPUQuota, r.CpusetMems = o.cpuPeriod, o.cpuQuota, o.cpusetMems
	r.BlkioWeight, r.OomKillDisable = o.blkioWeight, o.oomKillDisable
	r.CgroupParent = o.cgroupParent
	if o.memoryReservation != "" || o.reservationSet {
		n, err := cgroups.ParseMemory(o.memoryReservation)
		if ve, ok := err.(*cgroups.ValueError); ok {
			ve.What = "memory-reservation"
		}
		if err != nil {
			return err
		}
		r.MemoryReservation = n
	}
	if o.memorySwappiness != -1 {
		r.MemorySwappiness, r.MemorySwappinessSet = o.memorySwappiness, true
	}
	if cgroups.Mode() != "v2" {
		if r.OomKillDisable && r.Memory == 0 && !o.warned {
			fmt.Fprintln(w, "WARNING: OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.")
		}
		o.warned = true
		return nil
	}
	// Out of range is refused first, on every host: a bad value is a bad value.
	if r.MemorySwappinessSet && (r.MemorySwappiness < 0 || r.MemorySwappiness > 100) {
		return (&cgroups.Resources{MemorySwappiness: r.MemorySwappiness, MemorySwappinessSet: true}).Validate()
	}
	if r.MemorySwappinessSet {
		if !o.warned {
			fmt.Fprintln(w, "WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.")
		}
		r.MemorySwappiness, r.MemorySwappinessSet = 0, false
	}
	if r.OomKillDisable {
		if !o.warned {
			fmt.Fprintln(w, "WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded.")
		}
		r.OomKillDisable = false
	}
	o.warned = true
	return nil
}

// asGiven puts back what the user typed (-m 1024k) as the value of a limit's error that
// names it in bytes (invalid memory value "1048576"), so that the message shows the flag's
// value; given maps an error's What to the flag's value, "" when the flag was not given.
func asGiven(err error, given map[string]string) error {
	var ve *cgroups.ValueError
	if errors.As(err, &ve) && given[ve.What] != "" {
		ve.Value = given[ve.What]
	}
	return err
}
