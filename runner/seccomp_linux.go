package runner

import (
	"fmt"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/runner/seccomp"
)

// The container's seccomp filter is Docker's default profile (moby/profiles/seccomp), or the
// profile --security-opt seccomp=FILE gave, compiled by runner/seccomp into classic BPF by
// the parent of the init (containerFilter), for the container's capabilities and the host's
// kernel version (of minKernel rules). Like Docker's, the
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
	all := make([]int, lastCap()+1)
	for c := range all {
		all[c] = c
	}
	p, err := seccompProgram(profile, boundedCaps(all))
	if err != nil {
		return err
	}
	return installSeccomp(p)
}

// boundedCaps returns the capabilities of keep that are in the calling
// thread's bounding set: the set dropPrivileges(user, keep, last) leaves, which a seccomp profile
// is resolved against, known before the privileges are dropped.
func boundedCaps(keep []int) []int {
	var caps []int
	last := lastCap()
	for c := 0; c <= last; c++ {
		if !slices.Contains(keep, c) {
			continue
		}
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && ok == 1 {
			caps = append(caps, c)
		}
	}
	return caps
}

// seccompFilter is a compiled filter as the kernel takes it: the program's struct
// sock_filter array in host byte order, and the SECCOMP_FILTER_FLAG_* to install it with.
// The parent compiles it while the init mounts the root and sends it with goAhead, so the
// init spends no time on it.
type seccompFilter struct {
	Insns []byte
	Flags uint
}

// maxFilterBytes is the largest program seccomp takes: BPF_MAXINSNS (4096) instructions.
const maxFilterBytes = 4096 * sockFilterSize

// containerFilter compiles the seccomp filter of spec's container, or returns nil when it has
// none (seccomp=unconfined, --privileged). The capabilities that lift bans are those of the
// container's bounding set: its capabilities that this process's bounding set holds, which
// the init inherits.
func containerFilter(spec Spec) (*seccompFilter, error) {
	if !spec.seccompConfined() {
		return nil, nil
	}
	caps, err := capabilities(spec)
	if err != nil {
		return nil, err
	}
	p, err := seccompProgram(spec.Seccomp, boundedCaps(caps))
	if err != nil {
		return nil, err
	}
	return newSeccompFilter(p), nil
}

// sockFilterSize is sizeof(struct sock_filter).
const sockFilterSize = int(unsafe.Sizeof(unix.SockFilter{}))

func newSeccompFilter(p *seccomp.Program) *seccompFilter {
	b := make([]byte, 0, len(p.Filter)*sockFilterSize)
	for _, in := range p.Filter {
		f := unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		b = append(b, unsafe.Slice((*byte)(unsafe.Pointer(&f)), sockFilterSize)...)
	}
	return &seccompFilter{Insns: b, Flags: p.Flags}
}

// installSeccomp installs p on the calling thread, which must hold no_new_privs (or
// CAP_SYS_ADMIN) and is the thread that will execve.
func installSeccomp(p *seccomp.Program) error { return installFilter(newSeccompFilter(p)) }

// installFilter installs f on the calling thread, as installSeccomp.
func installFilter(f *seccompFilter) error {
	n := len(f.Insns) / sockFilterSize
	if n == 0 || n > 0xffff || len(f.Insns)%sockFilterSize != 0 {
		return fmt.Errorf("malformed filter of %d bytes", len(f.Insns))
	}
	// A copy the kernel reads as []unix.SockFilter: properly aligned whatever the bytes were.
	filter := make([]unix.SockFilter, n)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&filter[0])), len(f.Insns)), f.Insns)
	prog := unix.SockFprog{Len: uint16(n), Filter: &filter[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}
