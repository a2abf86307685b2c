package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// SECCOMP_RET_* (linux/seccomp.h): the action in the high 16 bits, data (an errno) in the low.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retData        = 0x0000ffff
	retActionFull  = 0xffff0000
)

// epermErrno is EPERM: the errno of SCMP_ACT_ERRNO and SCMP_ACT_TRACE without errnoRet, as
// runc uses, and of syscalls from ABIs the filter refuses.
const epermErrno = 1

// enosysErrno is ENOSYS, for calls newer than the profile (enosysPastProfile).
const enosysErrno = 38

// actionValue turns a profile action and its errnoRet into a SECCOMP_RET_* value.
func actionValue(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	var ret uint32
	switch a {
	case specs.ActAllow:
		ret = retAllow
	case specs.ActErrno, specs.ActTrace:
		errno := uint(epermErrno)
		if errnoRet != nil {
			errno = *errnoRet
		}
		if errno > retData {
			return 0, fmt.Errorf("errnoRet %d does not fit in 16 bits", errno)
		}
		if a == specs.ActErrno {
			return retErrno | uint32(errno), nil
		}
		return retTrace | uint32(errno), nil
	case specs.ActKill, specs.ActKillThread:
		ret = retKillThread
	case specs.ActKillProcess:
		ret = retKillProcess
	case specs.ActTrap:
		ret = retTrap
	case specs.ActLog:
		ret = retLog
	case specs.ActNotify:
		return 0, fmt.Errorf("%s needs a listener, which strata does not run", a)
	default:
		return 0, fmt.Errorf("unknown action %q", a)
	}
	if errnoRet != nil {
		return 0, fmt.Errorf("errnoRet is only valid with %s or %s", specs.ActErrno, specs.ActTrace)
	}
	return ret, nil
}

// precedence orders actions as the kernel does when several filters answer one syscall:
// lower is stricter (kill process, kill thread, trap, errno, notify, trace, log, allow).
// When several rules of a profile match one call, the strictest wins in the same way.
func precedence(ret uint32) int32 {
	return int32(ret & retActionFull)
}

// Filter flags for seccomp(2) (linux/seccomp.h SECCOMP_FILTER_FLAG_*).
const (
	flagLog       = 1 << 1
	flagSpecAllow = 1 << 2
)

// filterFlags turns a profile's flags into seccomp(2) flags. Flags that only make sense with
// a user-notification listener are refused with it.
func filterFlags(flags []specs.LinuxSeccompFlag) (uint, error) {
	var f uint
	for _, fl := range flags {
		switch fl {
		case specs.LinuxSeccompFlagLog:
			f |= flagLog
		case specs.LinuxSeccompFlagSpecAllow:
			f |= flagSpecAllow
		default:
			return 0, fmt.Errorf("unsupported flag %q", fl)
		}
	}
	return f, nil
}
