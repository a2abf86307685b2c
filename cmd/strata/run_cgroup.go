package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

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
	// readBps, writeBps, readIOps and writeIOps are --device-read-bps and the others, as
	// typed: PATH:RATE.
	readBps, writeBps, readIOps, writeIOps []string
	// weightDevice is --blkio-weight-device, as typed: PATH:WEIGHT.
	weightDevice []string
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
	stringArrayVar(f, &o.weightDevice, "blkio-weight-device", "", nil, "block I/O weight of one block device (e.g. /dev/sda:300; 10-1000)")
	stringArrayVar(f, &o.readBps, "device-read-bps", "", nil, "limit the read rate from a block device (e.g. /dev/sda:1mb)")
	stringArrayVar(f, &o.writeBps, "device-write-bps", "", nil, "limit the write rate to a block device (e.g. /dev/sda:1mb)")
	stringArrayVar(f, &o.readIOps, "device-read-iops", "", nil, "limit the read operations a second from a block device (e.g. /dev/sda:1000)")
	stringArrayVar(f, &o.writeIOps, "device-write-iops", "", nil, "limit the write operations a second to a block device (e.g. /dev/sda:1000)")
}

// blockDevice returns the numbers of the block device path, found by stat as docker's
// daemon finds them; any other file is refused before the kernel would refuse its numbers.
func blockDevice(path string) (major, minor int64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, fmt.Errorf("%s is not a block device", quotePath(path))
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

// weightDevices parses --blkio-weight-device's PATH:WEIGHT values as docker's CLI does
// (ValidateWeightDevice: a path under /dev/, a weight of 10 to 1000).
func weightDevices(vals []string) ([]cgroups.WeightDevice, error) {
	var out []cgroups.WeightDevice
	for _, val := range vals {
		path, weight, ok := strings.Cut(val, ":")
		if !ok || path == "" {
			return nil, fmt.Errorf("bad format: %s", quoteArg(val))
		}
		if !strings.HasPrefix(path, "/dev/") {
			return nil, fmt.Errorf("bad format for device path: %s", quoteArg(val))
		}
		w, err := strconv.ParseUint(weight, 10, 16)
		if err != nil || w < 10 || w > 1000 {
			return nil, fmt.Errorf("invalid weight for device: %s", quoteArg(val))
		}
		major, minor, err := blockDevice(path)
		if err != nil {
			return nil, err
		}
		out = append(out, cgroups.WeightDevice{Path: path, Major: major, Minor: minor, Weight: uint16(w)})
	}
	return out, nil
}

// throttleDevices parses --device-read-bps and the others' PATH:RATE values as docker's CLI
// does (ValidateThrottleBpsDevice, ValidateThrottleIOpsDevice: a path under /dev/, a size
// for bps, a count for iops) and finds each device's numbers as its daemon does, by stat.
func throttleDevices(vals []string, iops bool) ([]cgroups.ThrottleDevice, error) {
	var out []cgroups.ThrottleDevice
	for _, val := range vals {
		path, rate, ok := strings.Cut(val, ":")
		if !ok || path == "" {
			return nil, fmt.Errorf("bad format: %s", quoteArg(val))
		}
		if !strings.HasPrefix(path, "/dev/") {
			return nil, fmt.Errorf("bad format for device path: %s", quoteArg(val))
		}
		var n uint64
		if iops {
			v, err := strconv.ParseUint(rate, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>. Number must be a positive integer", quoteArg(val))
			}
			n = v
		} else {
			v, err := cgroups.ParseMemory(rate)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb", quoteArg(val))
			}
			n = uint64(v)
		}
		major, minor, err := blockDevice(path)
		if err != nil {
			return nil, err
		}
		out = append(out, cgroups.ThrottleDevice{Path: path, Major: major, Minor: minor, Rate: n})
	}
	return out, nil
}

// apply puts the flags into r; a value given as "" is refused as docker refuses it. On cgroup
// v2, which has no knob for them, swappiness and --oom-kill-disable are dropped with docker's
// warnings on w, as dockerd drops them (never written, never recorded).
func (o *cgroupOpts) apply(r *cgroups.Resources, w io.Writer) error {
	r.CPUPeriod, r.CPUQuota, r.CpusetMems = o.cpuPeriod, o.cpuQuota, o.cpusetMems
	r.BlkioWeight, r.OomKillDisable = o.blkioWeight, o.oomKillDisable
	r.CgroupParent = o.cgroupParent
	for _, t := range []struct {
		dst  *[]cgroups.ThrottleDevice
		vals []string
		iops bool
	}{{&r.BlkioDeviceReadBps, o.readBps, false}, {&r.BlkioDeviceWriteBps, o.writeBps, false}, {&r.BlkioDeviceReadIOps, o.readIOps, true}, {&r.BlkioDeviceWriteIOps, o.writeIOps, true}} {
		d, err := throttleDevices(t.vals, t.iops)
		if err != nil {
			return err
		}
		*t.dst = d
	}
	wd, err := weightDevices(o.weightDevice)
	if err != nil {
		return err
	}
	r.BlkioWeightDevice = wd
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
