package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
	"github.com/strata-run/strata/runner"
)

// nsOptions are docker's namespace-sharing flags of run and create: --pid, --ipc, --uts,
// --userns (and --network container:X, which is --network's).
type nsOptions struct {
	pid, ipc, uts, userns string
}

// addNamespaceFlags adds --pid, --ipc, --uts and --userns to f.
func addNamespaceFlags(f *pflag.FlagSet, o *nsOptions) {
	f.StringVar(&o.pid, "pid", "", `PID namespace: "host", or "container:NAME|ID" to join a running container's (default: its own)`)
	f.StringVar(&o.ipc, "ipc", "", `IPC namespace: "private" (the default), "shareable" (others may join it), "none" (no /dev/shm), "host", or "container:NAME|ID" of a shareable one`)
	f.StringVar(&o.uts, "uts", "", `UTS namespace: "host" (the host's name; --hostname is refused) (default: its own)`)
	f.StringVar(&o.userns, "userns", "", `user namespace: "host", which every strata container has (strata maps no users)`)
}

// apply checks the modes and sets them on s, with the names of containers still as given
// (resolveNSModes makes them IDs).
func (o nsOptions) apply(s *runner.Spec) (err error) {
	if s.PidMode, err = runner.ParsePidMode(o.pid); err != nil {
		return err
	}
	if s.IpcMode, err = runner.ParseIpcMode(o.ipc); err != nil {
		return err
	}
	if s.UTSMode, err = runner.ParseUTSMode(o.uts); err != nil {
		return err
	}
	s.UsernsMode, err = runner.ParseUsernsMode(o.userns)
	return err
}

// checkNamespaceConflicts refuses the flags that contradict the shared namespaces, with
// docker's words (runconfig's ErrConflict*): a host name of one's own in the host's UTS
// namespace or on another container's network, whose host name, /etc/hosts and
// /etc/resolv.conf the container takes, and DNS or host entries for that network.
func (o *runOptions) checkNamespaceConflicts() error {
	if o.ns.uts == runner.NSHost && o.hostname != "" {
		return errors.New("conflicting options: hostname and the UTS mode")
	}
	if _, ok := runner.NSContainer(o.network); !ok {
		return nil
	}
	switch {
	case o.hostname != "":
		return errors.New("conflicting options: hostname and the network mode")
	case len(o.dns) > 0, len(o.dnsSearch) > 0, len(o.dnsOptions) > 0:
		return errors.New("conflicting options: dns and the network mode")
	case len(o.addHosts) > 0:
		return errors.New("conflicting options: custom host-to-IP mapping and the network mode")
	}
	return nil
}

// resolveNSModes makes each container a mode of spec names (container:NAME, or an ID prefix)
// the full ID of that container, as it is recorded: a later rename, or another container
// taking the name, must not change whose namespaces this one joins. A container not found
// fails, as docker's create does ("No such container").
func resolveNSModes(store *runner.Store, spec *runner.Spec) error {
	for _, m := range []struct {
		flag string
		mode *string
	}{{"--pid", &spec.PidMode}, {"--ipc", &spec.IpcMode}, {"--network", &spec.Network}} {
		ref, ok := runner.NSContainer(*m.mode)
		if !ok {
			continue
		}
		c, err := findContainer(store, ref)
		if err != nil {
			return fmt.Errorf("%s: %w", m.flag, err)
		}
		*m.mode = runner.NSContainerPrefix + c.ID
	}
	return nil
}
