package runner

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-run/strata/internal/quote"
)

// Namespace sharing, docker's --pid, --ipc, --uts and --network container:X. A mode is ""
// (the default: a namespace of the container's own), NSHost (strata's own namespace, the
// clone leaves that flag out), or NSContainerPrefix followed by another container's full ID
// (resolved from a name at create, so that a rename or a reused name never redirects it): the
// init's clone enters the namespace of that container's PID 1 (nsshare_linux.go).
const (
	// NSHost shares the host's namespace of that kind.
	NSHost = "host"
	// NSContainerPrefix starts a mode that shares another container's namespace.
	NSContainerPrefix = "container:"
)

// IPC modes for Spec.IpcMode besides NSHost and container:ID, docker's --ipc values.
const (
	// IPCPrivate is a private IPC namespace with a /dev/shm of its own (the default).
	IPCPrivate = "private"
	// IPCShareable is IPCPrivate that other containers may join (--ipc container:X), as
	// docker allows only for a donor made shareable.
	IPCShareable = "shareable"
	// IPCNone is a private IPC namespace without /dev/shm.
	IPCNone = "none"
)

// NSContainer returns the container a mode names ("container:X" → X) and whether it names one.
func NSContainer(mode string) (string, bool) {
	return strings.CutPrefix(mode, NSContainerPrefix)
}

// parseNSMode reads one of the mode flags as docker's CLI checks them (container.PidMode's
// Valid and the others'): one of allowed, or container:X with X not empty when container is
// set. flag and kind name it in the error, in docker's words ("--pid: invalid PID mode").
func parseNSMode(flag, kind, v string, container bool, allowed ...string) (string, error) {
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	want := strings.Join(allowed, ", ")
	if container {
		if ref, ok := NSContainer(v); ok && ref != "" && !strings.ContainsAny(ref, "\x00\n") {
			return v, nil
		}
		want += " or container:NAME|ID"
	}
	return "", fmt.Errorf("%s: invalid %s mode %s: want %s", flag, kind, quote.Value(v), want)
}

// ParsePidMode reads --pid: host or container:NAME|ID ("" is a pid namespace of its own).
func ParsePidMode(v string) (string, error) {
	return parseNSMode("--pid", "PID", v, true, NSHost)
}

// ParseIpcMode reads --ipc: private, shareable, none, host or container:NAME|ID. "" and
// private are both the default, kept as given for inspect.
func ParseIpcMode(v string) (string, error) {
	return parseNSMode("--ipc", "IPC", v, true, IPCPrivate, IPCShareable, IPCNone, NSHost)
}

// ParseUTSMode reads --uts: host ("" is a UTS namespace of its own).
func ParseUTSMode(v string) (string, error) {
	return parseNSMode("--uts", "UTS", v, false, NSHost)
}

// ParseUsernsMode checks a --userns value as docker's CLI does: "" or "host". Both are what
// every strata container has, the host's user namespace: strata maps no users.
func ParseUsernsMode(v string) (string, error) {
	if v != "" && v != NSHost {
		return "", fmt.Errorf("--userns: invalid USER mode: %s (strata runs every container in the host's user namespace: \"host\")", quote.Value(v))
	}
	return v, nil
}

// ipcMode is the container's IPC mode as inspect shows it, docker's HostConfig.IpcMode:
// "private" unless another was asked for.
func (s Spec) ipcMode() string {
	if s.IpcMode == "" {
		return IPCPrivate
	}
	return s.IpcMode
}

// validateNSModes checks the mode fields of s as the flags give them.
func validateNSModes(s Spec) error {
	for _, m := range []struct {
		v     string
		parse func(string) (string, error)
	}{{s.PidMode, ParsePidMode}, {s.IpcMode, ParseIpcMode}, {s.UTSMode, ParseUTSMode}, {s.UsernsMode, ParseUsernsMode}} {
		if _, err := m.parse(m.v); err != nil {
			return err
		}
	}
	return nil
}

// validateNSTargets checks that every container s joins a namespace of is named by a full ID
// other than s's own: the CLI resolves a name when it creates the container, and the ID
// becomes a path in the store.
func validateNSTargets(s Spec) error {
	for id := range s.nsContainers() {
		switch {
		case id == s.ID:
			return fmt.Errorf("cannot join the namespaces of the container itself")
		case !isHexID(id) || len(id) != 64:
			return fmt.Errorf("joining the namespaces of container %s: it must be named by its full ID", quote.Value(id))
		}
	}
	return nil
}

// nsContainers are the IDs of the containers s joins a namespace of, each once, with the
// names (nsKinds') of the namespaces it joins there.
func (s Spec) nsContainers() map[string][]string {
	var out map[string][]string
	for _, m := range []struct{ kind, v string }{{"pid", s.PidMode}, {"ipc", s.IpcMode}, {"net", s.Network}} {
		if id, ok := NSContainer(m.v); ok {
			if out == nil {
				out = map[string][]string{}
			}
			out[id] = append(out[id], m.kind)
		}
	}
	return out
}

// containerDirOf is the dir of container id beside s's own, in the same store.
func (s Spec) containerDirOf(id string) string {
	return filepath.Join(filepath.Dir(s.Dir), id)
}

// initShmFD is the init's fd of the /dev/shm it attaches for --ipc container:X
// (ExtraFiles[2]): a copy of the donor's, made in the donor's mount namespace (openDonorShm).
const initShmFD = 5

// donorShmSource is the Source of the step that attaches the donor's /dev/shm (initShmFD).
var donorShmSource = "/proc/self/fd/" + strconv.Itoa(initShmFD)

// shmSteps mount the container's /dev/shm as its IPC mode asks, as docker does: a tmpfs of
// its own (private, shareable), none (none), the host's /dev/shm (host), or the IPC donor's,
// which strata opened in the donor's root and the init gets as initShmFD (container:X).
// flags are the tmpfs's; a bind gets propagation (plan's: rprivate under a slave root).
func shmSteps(spec Spec, flags, propagation uintptr) []Step {
	if _, joined := NSContainer(spec.IpcMode); joined {
		return []Step{{Op: OpBind, Source: donorShmSource, Target: "/dev/shm", Propagation: propagation}}
	}
	switch spec.IpcMode {
	case IPCNone:
		return nil
	case NSHost:
		return []Step{{Op: OpBind, Source: "/dev/shm", Target: "/dev/shm", Propagation: propagation}}
	}
	return []Step{{Op: OpMount, Target: "/dev/shm", FSType: "tmpfs", Source: "shm", Flags: flags, Data: "mode=1777,size=" + tmpfsSize(spec.shmSize())}}
}

// maxEtcFile bounds what is read of a network donor's hosts or resolv.conf.
const maxEtcFile = 1 << 20

// withNetworkDonor gives a container on another's network (--network container:ID) that
// container's host name, as docker gives it the donor's Config.Hostname: it has a UTS
// namespace of its own, named alike. A donor whose config cannot be read leaves spec as it is.
func withNetworkDonor(spec Spec) Spec {
	id, ok := NSContainer(spec.Network)
	if !ok {
		return spec
	}
	var cfg Config
	if err := readJSON(filepath.Join(spec.containerDirOf(id), configFile), &cfg); err == nil && cfg.Spec.ID == id {
		if h := cfg.Spec.withDefaults().Hostname; validateHostname(h) == nil {
			spec.Hostname = h
		}
	}
	return spec
}

// donorEtc returns the hosts and resolv.conf of the container spec shares a network with
// (--network container:ID), which docker binds into the joiner as they are; hosts and resolv,
// the joiner's own, stand for any the donor lacks.
func donorEtc(spec Spec, hosts, resolv []byte) ([]byte, []byte) {
	id, ok := NSContainer(spec.Network)
	if !ok {
		return hosts, resolv
	}
	dir := spec.containerDirOf(id)
	if b, err := readSmallFile(filepath.Join(dir, "hosts"), maxEtcFile); err == nil {
		hosts = b
	}
	if b, err := readSmallFile(filepath.Join(dir, "resolv.conf"), maxEtcFile); err == nil {
		resolv = b
	}
	return hosts, resolv
}
