package runner

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// lastCap is the highest capability this kernel knows, from /proc/sys/kernel/cap_last_cap.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	return n
}

// inBoundingSet says whether capability c is in the calling thread's bounding set; a
// capability this kernel does not know is not (PR_CAPBSET_READ fails with EINVAL).
func inBoundingSet(c int) bool {
	ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
	return err == nil && ok == 1
}

// dropPrivileges switches to user and leaves exactly caps. Order matters:
//
//  1. the bounding set shrinks first, while we still hold CAP_SETPCAP; after execve a root
//     process gets its permitted set from the bounding set, so this is what limits it;
//  2. groups, gid, uid, on this thread only (setThreadCreds); a non-root uid loses all
//     capabilities here, as with Docker (no ambient caps);
//  3. capset trims effective/permitted for the rest of the init and clears inheritable
//     (the CVE-2022-24769 fix in moby: no inheritable capabilities);
//  4. the parent-death signal, which the kernel clears on a credential change, is set again.
//
// Capabilities are per thread: the caller has locked this goroutine to the thread that execs.
// last is the kernel's highest capability (lastCap), read where the container cannot have
// changed it: the init reads its own fresh /proc; exec's helper reads the host's before it
// joins the container's mount namespace, where a container with CAP_SYS_ADMIN could have
// bound a file of its own over /proc/sys/kernel/cap_last_cap.
func dropPrivileges(u User, caps []int, last int) error {
	keep := map[int]bool{}
	for _, c := range caps {
		keep[c] = true
	}
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
		}
	}
	if err := setThreadCreds(u); err != nil {
		return err
	}
	// Not dumpable again: the kernel set the dumpable flag to fs.suid_dumpable when this
	// thread's uid changed, and where that is 1 the process (the init, or exec's helper), root
	// in its other threads with every capability, could be ptraced through this thread by any
	// host process of the user's uid and gid until it execs. execve sets the flag anew.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("making the process non-dumpable: %w", err)
	}
	// A capability strata itself lacks (root without CAP_SYS_RESOURCE on some hosts) cannot
	// be given: keep the requested ones this thread still holds, as docker --privileged does.
	// One named by --cap-add was refused before the container was made (capabilities).
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var have [2]unix.CapUserData
	if err := unix.Capget(&hdr, &have[0]); err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	var data [2]unix.CapUserData
	if u.UID == 0 {
		for _, c := range caps {
			bit := uint32(1) << (uint(c) % 32)
			if c >= 0 && c/32 < len(have) && have[c/32].Permitted&bit != 0 {
				data[c/32].Effective |= bit
				data[c/32].Permitted |= bit
			}
		}
	}
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("setting capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("setting parent death signal: %w", err)
	}
	return nil
}

// setThreadCreds sets the supplementary groups, gid and uid of the calling thread alone, with
// the raw system calls. Go's syscall.Setuid and friends apply them to every thread of the
// process (POSIX semantics, one signal round trip per thread); the helpers exec right after
// on this locked thread, and execve leaves only the calling thread and its credentials.
func setThreadCreds(u User) error {
	groups := make([]uint32, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = uint32(g)
	}
	var list unsafe.Pointer
	if len(groups) > 0 {
		list = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(list), 0); e != 0 {
		return fmt.Errorf("setting supplementary groups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setting gid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setting uid %d: %w", u.UID, e)
	}
	return nil
}
