package runner

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// strata's default seccomp filter is a denylist modelled on Docker's default profile
// (moby profiles/seccomp/default.json): the syscalls that profile leaves out, or allows only
// with a capability, fail with EPERM unless the container holds that capability. Docker's
// profile is an allowlist of ~350 syscalls with argument rules; compiling it needs libseccomp
// (cgo), and the pure-Go compilers we looked at cannot return ENOSYS, which glibc needs for
// clone3. A denylist of the dangerous calls, written directly in classic BPF, is small enough
// to read and test (seccomp_test.go runs it in a BPF interpreter).
//
// Like Docker's, the filter also
//   - fails clone3 with ENOSYS, so libcs fall back to clone, whose flags BPF can inspect;
//   - refuses clone/unshare that create namespaces (a user namespace is the usual first step
//     of a kernel exploit) unless the container has CAP_SYS_ADMIN;
//   - checks each ABI the kernel accepts from a process (x86_64, and i386 through int 0x80)
//     against its own numbers, and refuses x32 and any other ABI, whose numbers would
//     otherwise slip past the tables.

// seccompRule denies one syscall unless the container holds a capability that Docker's
// profile requires for it (-1: denied always).
type seccompRule struct {
	name string
	nr   int
	cap  int
}

// Offsets into struct seccomp_data (linux/seccomp.h): nr, arch, instruction_pointer, args[6].
const (
	seccompDataNr      = 0
	seccompDataArch    = 4
	seccompDataArgLow0 = 16 // args[0], low 32 bits on little-endian
)

// BPF opcodes used below (linux/bpf_common.h).
const (
	bpfLdWAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K
)

// x32SyscallBit marks x32 ABI syscall numbers on x86_64.
const x32SyscallBit = 0x40000000

// namespaceFlags are the clone/unshare flags that create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// errUnsupportedArch is returned where the syscall table is not written for the architecture.
var errUnsupportedArch = errors.New("no seccomp syscall table for this architecture")

// seccompABI is the syscall table of one ABI the filter handles: its AUDIT_ARCH value and the
// numbers of the calls it treats specially.
type seccompABI struct {
	arch                   uint32
	x32                    bool // refuse numbers with the x32 bit (x86_64 only)
	clone, clone3, unshare int
	denied                 []seccompRule
}

// seccompFilter compiles the default filter for a container holding caps: one section per
// ABI of seccompABIs, and EPERM for a syscall of any other ABI.
func seccompFilter(caps []int) ([]unix.SockFilter, error) {
	if len(seccompABIs) == 0 {
		return nil, errUnsupportedArch
	}
	has := map[int]bool{}
	for _, c := range caps {
		has[c] = true
	}
	var p []unix.SockFilter
	for _, abi := range seccompABIs {
		body, err := seccompSection(abi, has)
		if err != nil {
			return nil, err
		}
		if len(body) > 255 {
			return nil, fmt.Errorf("seccomp filter section too long for a BPF jump (%d)", len(body))
		}
		// Not this ABI: jump over its section to the next one.
		p = append(p,
			unix.SockFilter{Code: bpfLdWAbs, K: seccompDataArch},
			unix.SockFilter{Code: bpfJeqK, K: abi.arch, Jt: 0, Jf: uint8(len(body))},
		)
		p = append(p, body...)
	}
	return append(p, retErrno(unix.EPERM)), nil
}

// retErrno is a BPF return of "fail with errno".
func retErrno(errno unix.Errno) unix.SockFilter {
	return unix.SockFilter{Code: bpfRetK, K: unix.SECCOMP_RET_ERRNO | uint32(errno)}
}

// seccompSection is the filter for one ABI, after its arch matched; it always returns:
//
//	load nr; [x32 bit → EPERM]; [clone3 → ENOSYS]
//	each denied nr → the shared EPERM at the end
//	clone/unshare with namespace flags → EPERM (without CAP_SYS_ADMIN)
//	allow
//	EPERM
func seccompSection(abi seccompABI, has map[int]bool) ([]unix.SockFilter, error) {
	var denied []int
	for _, r := range abi.denied {
		if r.cap >= 0 && has[r.cap] {
			continue
		}
		denied = append(denied, r.nr)
	}
	denyNS := !has[unix.CAP_SYS_ADMIN]

	p := []unix.SockFilter{{Code: bpfLdWAbs, K: seccompDataNr}}
	if abi.x32 {
		p = append(p, unix.SockFilter{Code: bpfJgeK, K: x32SyscallBit, Jt: 0, Jf: 1}, retErrno(unix.EPERM))
	}
	if abi.clone3 >= 0 {
		p = append(p, unix.SockFilter{Code: bpfJeqK, K: uint32(abi.clone3), Jt: 0, Jf: 1}, retErrno(unix.ENOSYS))
	}
	// Each denied nr jumps forward to the shared EPERM return that follows the list, the
	// namespace checks and the allow.
	nsLen := 0
	if denyNS {
		nsLen = 7
	}
	for i, nr := range denied {
		toDeny := len(denied) - i - 1 + nsLen + 1
		if toDeny > 255 {
			return nil, fmt.Errorf("seccomp filter too long for a BPF jump (%d)", toDeny)
		}
		p = append(p, unix.SockFilter{Code: bpfJeqK, K: uint32(nr), Jt: uint8(toDeny), Jf: 0})
	}
	if denyNS {
		// For clone and unshare: load args[0] and test the namespace bits. The reload of nr
		// after the first check keeps the second comparison on the syscall number.
		//   jeq clone   → next, else skip 2
		//   ld arg0
		//   jset ns     → deny, else allow
		//   ld nr
		//   jeq unshare → next, else skip 2 (to allow)
		//   ld arg0
		//   jset ns     → deny, else allow
		p = append(p,
			unix.SockFilter{Code: bpfJeqK, K: uint32(abi.clone), Jt: 0, Jf: 2},
			unix.SockFilter{Code: bpfLdWAbs, K: seccompDataArgLow0},
			unix.SockFilter{Code: bpfJsetK, K: namespaceFlags, Jt: 5, Jf: 4},
			unix.SockFilter{Code: bpfLdWAbs, K: seccompDataNr},
			unix.SockFilter{Code: bpfJeqK, K: uint32(abi.unshare), Jt: 0, Jf: 2},
			unix.SockFilter{Code: bpfLdWAbs, K: seccompDataArgLow0},
			unix.SockFilter{Code: bpfJsetK, K: namespaceFlags, Jt: 1, Jf: 0},
		)
	}
	return append(p,
		unix.SockFilter{Code: bpfRetK, K: unix.SECCOMP_RET_ALLOW},
		retErrno(unix.EPERM),
	), nil
}

// loadSeccomp installs the default filter on the calling thread, which must hold
// no_new_privs (or CAP_SYS_ADMIN) and is the thread that will execve. The capabilities that
// lift bans are read from the thread's bounding set, which dropPrivileges has already cut to
// the container's set (for a non-root user too, whose effective set is empty).
func loadSeccomp() error {
	var caps []int
	for c := 0; c <= lastCap(); c++ {
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && ok == 1 {
			caps = append(caps, c)
		}
	}
	filter, err := seccompFilter(caps)
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}
