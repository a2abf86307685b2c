package runner

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckUlimits refuses, before anything is created, a hard limit above the one this process
// has: only CAP_SYS_RESOURCE may raise it, which root lacks on some hosts, and the init could
// not set it. The init inherits this process's limits, so what passes here can be set there
// (a container started later by another strata process is checked again by the kernel). A
// nofile limit above the kernel's fs.nr_open, "unlimited" included, is refused first: no
// capability lets a process set it (docker's runc fails it at start, "error setting rlimit
// type 7: operation not permitted").
func CheckUlimits(us []Ulimit) error {
	if len(us) == 0 {
		return nil
	}
	for _, u := range us {
		resource, want := u.rlimit()
		if resource == unix.RLIMIT_NOFILE {
			if n := nrOpen(); n > 0 && want.Max > n {
				return fmt.Errorf("--ulimit nofile: hard limit %s is above the kernel's maximum of %d open files (fs.nr_open)", limitString(u.Hard), n)
			}
		}
		var have unix.Rlimit
		if err := unix.Getrlimit(resource, &have); err != nil {
			return fmt.Errorf("--ulimit %s: reading strata's own limit: %w", u.Name, err)
		}
		if want.Max <= have.Max || have.Max == unix.RLIM_INFINITY {
			continue
		}
		if hasEffectiveCap(unix.CAP_SYS_RESOURCE) {
			return nil // it may raise any hard limit
		}
		return fmt.Errorf("--ulimit %s: hard limit %s is above strata's own %s, which only CAP_SYS_RESOURCE may raise", u.Name, limitString(u.Hard), rlimString(have.Max))
	}
	return nil
}

// nrOpen is the kernel's bound on RLIMIT_NOFILE, /proc/sys/fs/nr_open, or 0 when it cannot be
// read.
func nrOpen() uint64 {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func rlimString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// hasEffectiveCap says whether this thread holds capability c.
func hasEffectiveCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil || c/32 >= len(data) {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// setUlimits sets the container's limits on the init, which its command inherits through
// exec. unix.Setrlimit goes through package syscall, which then no longer restores, at exec,
// the RLIMIT_NOFILE soft limit the Go runtime raised for itself at start: the command gets
// exactly the limit asked for. A container without --ulimit costs no syscall here, and its
// command gets the limits strata was started with (Go restores its NOFILE soft limit).
func setUlimits(us []Ulimit) error {
	for _, u := range us {
		resource, lim := u.rlimit()
		if err := unix.Setrlimit(resource, &lim); err != nil {
			if errors.Is(err, unix.EPERM) {
				var have unix.Rlimit
				if unix.Getrlimit(resource, &have) == nil && lim.Max > have.Max {
					return fmt.Errorf("setting ulimit %s: hard limit %s is above strata's own %s, which only CAP_SYS_RESOURCE may raise: %w", u.Name, limitString(u.Hard), rlimString(have.Max), err)
				}
			}
			return fmt.Errorf("setting ulimit %s=%s:%s: %w", u.Name, limitString(u.Soft), limitString(u.Hard), err)
		}
	}
	return nil
}
