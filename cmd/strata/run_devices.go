package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// deviceOptions are run's and create's device and kernel-tunable flags, docker's --device,
// --device-cgroup-rule, --sysctl and --oom-score-adj.
type deviceOptions struct {
	devices           []string
	deviceCgroupRules []string
	sysctls           []string
	oomScoreAdj       optionalInt

	// resolved memoizes resolveDevices: resources and spec both ask.
	resolved *resolvedDevices
}

// resolvedDevices are the --device and --device-cgroup-rule values parsed, and the host nodes
// and cgroup rules they come to.
type resolvedDevices struct {
	mappings []runner.DeviceMapping
	nodes    []runner.DeviceNode
	rules    []cgroups.DeviceRule
	err      error
}

// addDeviceFlags adds the device and kernel-tunable flags to f.
func addDeviceFlags(f *pflag.FlagSet, o *deviceOptions) {
	stringArrayVar(f, &o.devices, "device", "", nil, "add a host device to the container: HOST[:CONTAINER][:PERMISSIONS] (permissions r, w, m; default rwm)")
	stringArrayVar(f, &o.deviceCgroupRules, "device-cgroup-rule", "", nil, `add a rule to the cgroup's allowed devices, e.g. 'c 42:* rmw'`)
	stringArrayVar(f, &o.sysctls, "sysctl", "", nil, "set a namespaced kernel parameter, KEY=VALUE (net.*, fs.mqueue.*, kernel.shm*, kernel.msg*, kernel.sem)")
	f.Var(&o.oomScoreAdj, "oom-score-adj", "tune the container's OOM preference (-1000 to 1000)")
}

// hasDevices says whether a --device or --device-cgroup-rule was given: without them
// nothing of this runs.
func (o *deviceOptions) hasDevices() bool {
	return len(o.devices) > 0 || len(o.deviceCgroupRules) > 0
}

// resolveDevices parses the device flags and finds the host's nodes (once).
func (o *deviceOptions) resolveDevices() *resolvedDevices {
	if o.resolved != nil {
		return o.resolved
	}
	r := &resolvedDevices{}
	o.resolved = r
	for _, v := range o.devices {
		d, err := runner.ParseDevice(v)
		if err != nil {
			r.err = err
			return r
		}
		r.mappings = append(r.mappings, d)
	}
	if r.nodes, r.rules, r.err = runner.ResolveDevices(r.mappings); r.err != nil {
		return r
	}
	for _, v := range o.deviceCgroupRules {
		rule, err := cgroups.ParseDeviceRule(v)
		if err != nil {
			r.err = err
			return r
		}
		r.rules = append(r.rules, rule)
	}
	return r
}

// deviceRules are the cgroup rules of the device flags, for the container's Resources.
func (o *deviceOptions) deviceRules() ([]cgroups.DeviceRule, error) {
	if !o.hasDevices() {
		return nil, nil
	}
	r := o.resolveDevices()
	return r.rules, r.err
}

// applyDevices sets s's device, sysctl and OOM score fields from the flags.
func (o *deviceOptions) applyDevices(s *runner.Spec) error {
	if o.hasDevices() {
		r := o.resolveDevices()
		if r.err != nil {
			return r.err
		}
		s.Devices, s.DeviceNodes, s.DeviceCgroupRules = r.mappings, r.nodes, o.deviceCgroupRules
	}
	for _, v := range o.sysctls {
		k, val, err := runner.ParseSysctl(v)
		if err != nil {
			return err
		}
		if s.Sysctls == nil {
			s.Sysctls = map[string]string{}
		}
		s.Sysctls[k] = val
	}
	if o.oomScoreAdj.set {
		n := o.oomScoreAdj.n
		s.OomScoreAdj = &n
	}
	return nil
}

// optionalInt is an int flag that knows whether it was given: --oom-score-adj 0 is written,
// no flag leaves strata's own score.
type optionalInt struct {
	n   int
	set bool
}

func (v *optionalInt) String() string { return strconv.Itoa(v.n) }
func (v *optionalInt) Type() string   { return "int" }

func (v *optionalInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return fmt.Errorf("want a number from -1000 to 1000")
	}
	v.n, v.set = int(n), true
	return nil
}
