package seccomp

import (
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run gen_syscalls.go

// AUDIT_ARCH values (linux/audit.h): what the kernel puts in seccomp_data.arch for each ABI.
// Like the BPF opcodes (bpf.go) and SECCOMP_RET values (action.go), they are written out
// next to the code that emits them, with the header they come from; consts_linux_test.go
// checks each against x/sys/unix.
const (
	auditArchX8664   = 0xc000003e
	auditArchI386    = 0x40000003
	auditArchAArch64 = 0xc00000b7
	auditArchARM     = 0x40000028
)

// x32Bit marks a syscall number of the x32 ABI, which shares AUDIT_ARCH_X86_64 with x86_64
// (arch/x86/include/uapi/asm/unistd.h __X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// sysnum is one syscall of an ABI's table.
type sysnum struct {
	name string
	nr   uint32
}

// abi is one syscall ABI a filter can have a section for.
type abi struct {
	arch  specs.Arch // its name in profiles: SCMP_ARCH_X86_64
	audit uint32     // seccomp_data.arch
	// native is libseccomp's name for the arch, which includes/excludes "arches" use.
	native string
	// x32 says the ABI shares its audit arch with x32, whose numbers the filter refuses.
	x32   bool
	table []sysnum // sorted by name, from zsyscalls.go
}

var (
	abiX8664   = &abi{arch: specs.ArchX86_64, audit: auditArchX8664, native: "amd64", x32: true, table: sysX8664}
	abiI386    = &abi{arch: specs.ArchX86, audit: auditArchI386, native: "x86", table: sysI386}
	abiAArch64 = &abi{arch: specs.ArchAARCH64, audit: auditArchAArch64, native: "arm64", table: sysAArch64}
	abiARM     = &abi{arch: specs.ArchARM, audit: auditArchARM, native: "arm", table: sysARM}
)

// platform is a native arch and the compat ABIs a process of that arch can also make
// syscalls in (x86_64: i386 through int 0x80; aarch64: AArch32). x32 is not among them: the
// filter always refuses it, as its numbers would otherwise slip past the x86_64 table.
type platform struct {
	native *abi
	compat []*abi
}

var platforms = []platform{
	{native: abiX8664, compat: []*abi{abiI386}},
	{native: abiAArch64, compat: []*abi{abiARM}},
}

// NativeArch is the profile name of the architecture this binary runs on (SCMP_ARCH_X86_64),
// or "" where the package has no syscall table for it.
func NativeArch() specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		return specs.ArchX86_64
	case "arm64":
		return specs.ArchAARCH64
	}
	return ""
}

// platformOf finds the platform whose native arch is a.
func platformOf(a specs.Arch) (platform, bool) {
	for _, p := range platforms {
		if p.native.arch == a {
			return p, true
		}
	}
	return platform{}, false
}

// armPrivateBase is __ARM_NR_BASE: ARM's own calls (cacheflush, set_tls) are numbered from
// here, far above the common table.
const armPrivateBase = 0x0f0000

// privateBase is where the ABI's private syscall numbers start (none: the top).
func (a *abi) privateBase() uint32 {
	if a == abiARM {
		return armPrivateBase
	}
	return ^uint32(0)
}

// lookup returns the syscall number of name in the ABI's table: a binary search over the
// sorted static table, as a map would be built at every start of strata, not only of
// containers.
func (a *abi) lookup(name string) (uint32, bool) {
	lo, hi := 0, len(a.table)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a.table[m].name < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(a.table) && a.table[lo].name == name {
		return a.table[lo].nr, true
	}
	return 0, false
}

// abis returns the ABIs a filter for platform p covers under profile prof: always the native
// one, and each compat ABI the profile lists, through archMap (the entry of the native arch)
// or architectures, as libseccomp adds the arches runc hands it.
func (p platform) abis(prof *Profile) []*abi {
	listed := prof.Architectures
	for _, m := range prof.ArchMap {
		if m.Arch == p.native.arch {
			listed = append(slices.Clone(listed), m.SubArches...)
		}
	}
	out := []*abi{p.native}
	for _, c := range p.compat {
		if slices.ContainsFunc(listed, func(a specs.Arch) bool { return strings.EqualFold(string(a), string(c.arch)) }) {
			out = append(out, c)
		}
	}
	return out
}
