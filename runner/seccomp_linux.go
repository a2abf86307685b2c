package runner

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/runner/seccomp"
)

// The container's seccomp filter is Docker's default profile (moby/profiles/seccomp), or the
// profile --security-opt seccomp=FILE gave, compiled by runner/seccomp into classic BPF in
// the init itself: the capabilities that lift bans are the container's, and the kernel
// version of minKernel rules is the host's, both known only there. Like Docker's, the
// default profile is an allowlist: any call it does not name fails with EPERM. It also
//   - fails clone3 with ENOSYS, so libcs fall back to clone, whose flags BPF can inspect;
//   - refuses clone/unshare that create namespaces (a user namespace is the usual first step
//     of a kernel exploit) unless the container has CAP_SYS_ADMIN;
//   - checks each ABI the kernel accepts from a process (x86_64, and i386 through int 0x80;
//     aarch64 and arm) against its own numbers, and refuses x32 and any other ABI, whose
//     numbers would otherwise slip past the tables;
//   - fails calls newer than every call the profile names with ENOSYS, as runc does, so a
//     libc falls back instead of giving up.
//
// Compiling takes about 0.3 ms (BenchmarkCompileDefault in runner/seccomp), once per start.

// seccompProgram compiles the profile of Spec.Seccomp (SeccompDefault or a profile's JSON)
// for a container holding caps (capability numbers).
func seccompProgram(profile string, caps []int) (*seccomp.Program, error) {
	p := seccomp.Default()
	if profile != SeccompDefault {
		var err error
		if p, err = seccomp.Parse([]byte(profile)); err != nil {
			return nil, err
		}
	}
	kernel, err := seccomp.HostKernel()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(caps))
	for name, nr := range capNames {
		for _, c := range caps {
			if c == nr {
				names = append(names, "CAP_"+name)
			}
		}
	}
	return seccomp.Compile(p, seccomp.Target{Caps: names, Kernel: kernel})
}

// loadSeccomp installs the filter of profile (Spec.Seccomp; none or SeccompDefault: Docker's
// default) on the calling thread, which must hold no_new_privs (or CAP_SYS_ADMIN) and is the
// thread that will execve. The capabilities that lift bans are read from the thread's
// bounding set, which dropPrivileges has already cut to the container's set (for a non-root
// user too, whose effective set is empty), as Docker resolves its profile against the
// bounding set.
func loadSeccomp(profile string) error {
	var caps []int
	for c := 0; c <= lastCap(); c++ {
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && ok == 1 {
			caps = append(caps, c)
		}
	}
	p, err := seccompProgram(profile, caps)
	if err != nil {
		return err
	}
	filter := make([]unix.SockFilter, len(p.Filter))
	for i, in := range p.Filter {
		filter[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.Flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}
