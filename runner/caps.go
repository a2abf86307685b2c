package runner

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/quote"
)

// capNames maps capability names (without CAP_) to their numbers, as --cap-add spells them.
var capNames = map[string]int{
	"CHOWN": unix.CAP_CHOWN, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE,
	"DAC_READ_SEARCH": unix.CAP_DAC_READ_SEARCH, "FOWNER": unix.CAP_FOWNER,
	"FSETID": unix.CAP_FSETID, "KILL": unix.CAP_KILL, "SETGID": unix.CAP_SETGID,
	"SETUID": unix.CAP_SETUID, "SETPCAP": unix.CAP_SETPCAP,
	"LINUX_IMMUTABLE": unix.CAP_LINUX_IMMUTABLE, "NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
	"NET_BROADCAST": unix.CAP_NET_BROADCAST, "NET_ADMIN": unix.CAP_NET_ADMIN,
	"NET_RAW": unix.CAP_NET_RAW, "IPC_LOCK": unix.CAP_IPC_LOCK, "IPC_OWNER": unix.CAP_IPC_OWNER,
	"SYS_MODULE": unix.CAP_SYS_MODULE, "SYS_RAWIO": unix.CAP_SYS_RAWIO,
	"SYS_CHROOT": unix.CAP_SYS_CHROOT, "SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"SYS_PACCT": unix.CAP_SYS_PACCT, "SYS_ADMIN": unix.CAP_SYS_ADMIN,
	"SYS_BOOT": unix.CAP_SYS_BOOT, "SYS_NICE": unix.CAP_SYS_NICE,
	"SYS_RESOURCE": unix.CAP_SYS_RESOURCE, "SYS_TIME": unix.CAP_SYS_TIME,
	"SYS_TTY_CONFIG": unix.CAP_SYS_TTY_CONFIG, "MKNOD": unix.CAP_MKNOD, "LEASE": unix.CAP_LEASE,
	"AUDIT_WRITE": unix.CAP_AUDIT_WRITE, "AUDIT_CONTROL": unix.CAP_AUDIT_CONTROL,
	"SETFCAP": unix.CAP_SETFCAP, "MAC_OVERRIDE": unix.CAP_MAC_OVERRIDE,
	"MAC_ADMIN": unix.CAP_MAC_ADMIN, "SYSLOG": unix.CAP_SYSLOG, "WAKE_ALARM": unix.CAP_WAKE_ALARM,
	"BLOCK_SUSPEND": unix.CAP_BLOCK_SUSPEND, "AUDIT_READ": unix.CAP_AUDIT_READ,
	"PERFMON": unix.CAP_PERFMON, "BPF": unix.CAP_BPF, "CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// DefaultCaps is Docker's default capability set (moby oci/caps/defaults.go) less MKNOD: a
// default container cannot create device nodes at all (--cap-add MKNOD allows it). The
// devices cgroup then still decides which nodes open, as in Docker.
var DefaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

// normalizeCap turns "cap_net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" into "NET_ADMIN".
func normalizeCap(s string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "CAP_")
}

// capabilities computes the container's capability numbers as docker's TweakCapabilities
// (moby oci/caps): every capability for a privileged container; with ALL among CapAdd, every
// capability but those CapDrop names; with ALL among CapDrop, only CapAdd; else DefaultCaps
// minus CapDrop plus CapAdd. As in docker, a list is read up to an ALL in it: a name after
// it is not even checked. A capability CapAdd names that this process's bounding set lacks
// is an error (capHeld).
func capabilities(s Spec) ([]int, error) {
	if s.Privileged {
		all := make([]int, 0, len(capNames))
		for _, n := range capNames {
			all = append(all, n)
		}
		slices.Sort(all)
		return all, nil
	}
	drops, dropAll, err := capList(s.CapDrop, "--cap-drop")
	if err != nil {
		return nil, err
	}
	adds, addAll, err := capList(s.CapAdd, "--cap-add")
	if err != nil {
		return nil, err
	}
	// A capability named on its own must be given, or refused: one strata lacks (root
	// without CAP_SYS_RESOURCE in its bounding set, as on some hosts) would be left out by the
	// init, and the container would run without it, exit 0. ALL and --privileged give every
	// capability strata holds, as docker's; those it lacks are left out silently there.
	if !addAll {
		for i, c := range adds {
			if !capHeld(capNames[c]) {
				return nil, fmt.Errorf("--cap-add %s: strata does not hold this capability here (not in its bounding set)", quote.Value(s.CapAdd[i]))
			}
		}
	}
	set := map[string]bool{}
	switch {
	case addAll:
		for c := range capNames {
			set[c] = true
		}
		for _, c := range drops {
			delete(set, c)
		}
	case dropAll:
		for _, c := range adds {
			set[c] = true
		}
	default:
		for _, c := range DefaultCaps {
			set[c] = true
		}
		for _, c := range drops {
			delete(set, c)
		}
		for _, c := range adds {
			set[c] = true
		}
	}
	out := make([]int, 0, len(set))
	for c := range set {
		out = append(out, capNames[c])
	}
	slices.Sort(out)
	return out, nil
}

// capHeld says whether strata can give capability c to a container: whether it is in this
// process's bounding set, which the init inherits and the container's capabilities are cut
// from. A variable for tests.
var capHeld = inBoundingSet

// capList normalizes the names of a --cap-add or --cap-drop list; all is true, and the names
// are nil, once ALL is in it.
func capList(given []string, flag string) (names []string, all bool, err error) {
	for _, g := range given {
		// ALL as docker's NormalizeCapability reads it: in any case, without a CAP_ prefix
		// (CAP_ALL is an unknown capability there).
		if strings.EqualFold(strings.TrimSpace(g), "ALL") {
			return nil, true, nil
		}
		c := normalizeCap(g)
		if _, ok := capNames[c]; !ok {
			return nil, false, fmt.Errorf("%s %s: unknown capability", flag, quote.Value(g))
		}
		names = append(names, c)
	}
	return names, false, nil
}
