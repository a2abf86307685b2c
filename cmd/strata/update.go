package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// updateOptions are docker update's flags: the resources, and --restart.
type updateOptions struct {
	restart                               string
	memory, memorySwap, memoryReservation string
	cpus                                  string
	cpuShares                             uint64
	cpuPeriod, cpuQuota                   int64
	cpusetCpus, cpusetMems                string
	pidsLimit                             int64
	blkioWeight                           uint16
}

// newUpdateCmd is docker update: new cgroup limits for containers, applied at once to a
// running one and recorded for the next start of any.
func newUpdateCmd(g *globals) *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update the cgroup limits or the restart policy of one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ch, err := o.change(cmd)
			if err != nil {
				return withCode(runner.ExitOwnError, err)
			}
			var restart *runner.RestartPolicy
			// An empty --restart names no policy and changes none, as docker's CLI sends none
			// for it (the flag still counts as given).
			if cmd.Flags().Changed("restart") && o.restart != "" {
				p, err := runner.ParseRestartPolicy(o.restart)
				if err != nil {
					return withCode(runner.ExitOwnError, err)
				}
				restart = &p
			}
			// docker counts the flags given, not the changes: --blkio-weight 0 (no change)
			// updates nothing and succeeds.
			given := 0
			cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if f.Changed {
					given++
				}
			})
			if given == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			// docker's daemon logs an update event for each container it updated.
			return eachContainer(cmd, g, args, true, withEvent(func(c *runner.Container) error {
				return asGiven(runner.Update(c, ch, restart), o.given())
			}, "update"))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.memory, "memory", "m", "", "memory limit (e.g. 512m)")
	f.StringVar(&o.memorySwap, "memory-swap", "", "memory plus swap limit, or -1 for unlimited swap")
	f.StringVar(&o.memoryReservation, "memory-reservation", "", "memory soft limit (e.g. 256m)")
	f.StringVar(&o.cpus, "cpus", "", "number of CPUs (e.g. 1.5)")
	f.VarP((*cpuSharesValue)(&o.cpuShares), "cpu-shares", "c", "relative CPU weight")
	f.Int64Var(&o.cpuPeriod, "cpu-period", 0, "CPU CFS period in µs (1000-1000000)")
	f.Int64Var(&o.cpuQuota, "cpu-quota", 0, "CPU CFS quota in µs per period (at least 1000; -1 unlimited)")
	f.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs the container may use (e.g. 0-1)")
	f.StringVar(&o.cpusetMems, "cpuset-mems", "", "memory nodes the container may use (e.g. 0)")
	f.Int64Var(&o.pidsLimit, "pids-limit", 0, "maximum number of processes (-1 for unlimited)")
	f.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "relative block I/O weight (10-1000)")
	f.StringVar(&o.restart, "restart", "", "restart policy: no, always, unless-stopped or on-failure[:max-retries] (applied when the container next exits)")
	return cmd
}

// given maps each limit a ValueError may name in bytes to the flag's value as typed (asGiven).
func (o *updateOptions) given() map[string]string {
	return map[string]string{"memory": o.memory, "memory-swap": o.memorySwap, "memory-reservation": o.memoryReservation, "cpus": o.cpus}
}

// change parses the flags given; a size or a number of CPUs given as "" is refused, as run
// refuses it.
func (o *updateOptions) change(cmd *cobra.Command) (cgroups.Change, error) {
	f := cmd.Flags()
	var ch cgroups.Change
	var err error
	mem := func(name, v string, parse func(string) (int64, error)) (int64, error) {
		if !f.Changed(name) {
			return 0, nil
		}
		n, err := parse(v)
		if ve, ok := err.(*cgroups.ValueError); ok {
			ve.What = name
		}
		return n, err
	}
	if ch.Memory, err = mem("memory", o.memory, cgroups.ParseMemory); err != nil {
		return ch, err
	}
	if ch.MemorySwap, err = mem("memory-swap", o.memorySwap, cgroups.ParseMemorySwap); err != nil {
		return ch, err
	}
	if ch.MemoryReservation, err = mem("memory-reservation", o.memoryReservation, cgroups.ParseMemory); err != nil {
		return ch, err
	}
	if f.Changed("cpus") {
		if ch.CPUs, err = cgroups.ParseCPUs(o.cpus); err != nil {
			return ch, err
		}
	}
	if f.Changed("cpu-shares") {
		ro := runOptions{cpuShares: o.cpuShares}
		ro.clampCPUShares(os.Stderr)
		ch.CPUShares = ro.cpuShares
	}
	ch.CPUPeriod, ch.CPUQuota = o.cpuPeriod, o.cpuQuota
	// An empty cpuset is none and changes nothing, as docker's daemon reads it (and run).
	ch.CpusetCpus, ch.CpusetMems = o.cpusetCpus, o.cpusetMems
	ch.PidsLimit, ch.PidsLimitSet = o.pidsLimit, f.Changed("pids-limit")
	ch.BlkioWeight = o.blkioWeight
	// What a value alone tells (a quota below 1 ms, --cpus with --cpu-period) is refused
	// before any container is touched; what needs the container's limits, per container.
	return ch, asGiven(ch.Check(), o.given())
}
