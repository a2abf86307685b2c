package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerCaps is Docker's default capability set (moby oci/caps/defaults.go).
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

const (
	allow  = retAllow
	eperm  = retErrno | 1
	enosys = retErrno | 38
)

// nr looks a name up in an ABI's table, failing the test when it is missing.
func nr(t *testing.T, b *abi, name string) uint32 {
	t.Helper()
	n, ok := b.lookup(name)
	if !ok {
		t.Fatalf("no %s in the %s table", name, b.arch)
	}
	return n
}

func mustCompile(t testing.TB, p *Profile, tg Target) []Instruction {
	t.Helper()
	prog, err := Compile(p, tg)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return prog.Filter
}

func TestDefaultProfile(t *testing.T) {
	kernel := KernelVersion{Kernel: 6, Major: 18}
	old := KernelVersion{Kernel: 4, Major: 4}
	x86 := Target{Arch: specs.ArchX86_64, Caps: dockerCaps, Kernel: kernel}
	admin := Target{Arch: specs.ArchX86_64, Caps: append([]string{"SYS_ADMIN"}, dockerCaps...), Kernel: kernel}
	oldKernel := Target{Arch: specs.ArchX86_64, Caps: dockerCaps, Kernel: old}
	oldPtrace := Target{Arch: specs.ArchX86_64, Caps: append([]string{"CAP_SYS_PTRACE"}, dockerCaps...), Kernel: old}
	arm := Target{Arch: specs.ArchAARCH64, Caps: dockerCaps, Kernel: kernel}
	const (
		newUser   = 0x10000000
		newNS     = 0x00020000
		cloneVM   = 0x00000100
		threadFlg = 0x00010000
	)
	x := abiX8664
	tests := []struct {
		name   string
		target Target
		call   call
		want   uint32
	}{
		{"read", x86, call{auditArchX8664, nr(t, x, "read"), [6]uint64{}}, allow},
		{"write", x86, call{auditArchX8664, nr(t, x, "write"), [6]uint64{1}}, allow},
		{"execve", x86, call{auditArchX8664, nr(t, x, "execve"), [6]uint64{}}, allow},
		{"nr 0 (read)", x86, call{auditArchX8664, 0, [6]uint64{}}, allow},
		{"mount", x86, call{auditArchX8664, nr(t, x, "mount"), [6]uint64{}}, eperm},
		{"umount2", x86, call{auditArchX8664, nr(t, x, "umount2"), [6]uint64{}}, eperm},
		{"kexec_load", x86, call{auditArchX8664, nr(t, x, "kexec_load"), [6]uint64{}}, eperm},
		{"bpf", x86, call{auditArchX8664, nr(t, x, "bpf"), [6]uint64{}}, eperm},
		{"keyctl", x86, call{auditArchX8664, nr(t, x, "keyctl"), [6]uint64{}}, eperm},
		{"unshare", x86, call{auditArchX8664, nr(t, x, "unshare"), [6]uint64{newUser}}, eperm},
		// Numbers above every call the profile names are newer than it: ENOSYS, as runc.
		{"number past the profile", x86, call{auditArchX8664, 4000, [6]uint64{}}, enosys},
		{"largest number", x86, call{auditArchX8664, 0x3fffffff, [6]uint64{}}, enosys},
		{"ptrace before 4.8", oldKernel, call{auditArchX8664, nr(t, x, "ptrace"), [6]uint64{}}, eperm},
		{"ptrace before 4.8 with CAP_SYS_PTRACE", oldPtrace, call{auditArchX8664, nr(t, x, "ptrace"), [6]uint64{}}, allow},
		// Docker's profile allows ptrace from kernel 4.8, which closed the seccomp bypass.
		{"ptrace on 6.18", x86, call{auditArchX8664, nr(t, x, "ptrace"), [6]uint64{}}, allow},
		{"clone3", x86, call{auditArchX8664, nr(t, x, "clone3"), [6]uint64{}}, enosys},
		{"clone thread", x86, call{auditArchX8664, nr(t, x, "clone"), [6]uint64{cloneVM | threadFlg}}, allow},
		{"clone newuser", x86, call{auditArchX8664, nr(t, x, "clone"), [6]uint64{newUser}}, eperm},
		{"clone newns high bits", x86, call{auditArchX8664, nr(t, x, "clone"), [6]uint64{1<<32 | newNS}}, eperm},
		{"clone flag in high half only", x86, call{auditArchX8664, nr(t, x, "clone"), [6]uint64{1 << 40}}, allow},
		{"personality 0xffffffff", x86, call{auditArchX8664, nr(t, x, "personality"), [6]uint64{0xffffffff}}, allow},
		{"personality 0", x86, call{auditArchX8664, nr(t, x, "personality"), [6]uint64{0}}, allow},
		{"personality sign-extended -1", x86, call{auditArchX8664, nr(t, x, "personality"), [6]uint64{^uint64(0)}}, eperm},
		{"personality 1", x86, call{auditArchX8664, nr(t, x, "personality"), [6]uint64{1}}, eperm},
		{"socket AF_UNIX", x86, call{auditArchX8664, nr(t, x, "socket"), [6]uint64{1}}, allow},
		{"socket AF_INET6", x86, call{auditArchX8664, nr(t, x, "socket"), [6]uint64{10}}, allow},
		{"socket AF_UNSPEC", x86, call{auditArchX8664, nr(t, x, "socket"), [6]uint64{0}}, allow},
		{"socket AF_AX25 (removed)", x86, call{auditArchX8664, nr(t, x, "socket"), [6]uint64{3}}, eperm},
		{"socket AF_INET with high bits", x86, call{auditArchX8664, nr(t, x, "socket"), [6]uint64{1<<32 | 2}}, eperm},
		{"x32 read", x86, call{auditArchX8664, x32Bit | 0, [6]uint64{}}, eperm},
		{"x32 read under admin", admin, call{auditArchX8664, x32Bit | 0, [6]uint64{}}, eperm},
		{"unknown arch", x86, call{auditArchAArch64, 63, [6]uint64{}}, eperm},
		{"admin mount", admin, call{auditArchX8664, nr(t, x, "mount"), [6]uint64{}}, allow},
		{"admin unshare", admin, call{auditArchX8664, nr(t, x, "unshare"), [6]uint64{newUser}}, allow},
		{"admin clone newuser", admin, call{auditArchX8664, nr(t, x, "clone"), [6]uint64{newUser}}, allow},
		{"admin clone3", admin, call{auditArchX8664, nr(t, x, "clone3"), [6]uint64{}}, allow},
		{"admin keeps keyctl out", admin, call{auditArchX8664, nr(t, x, "keyctl"), [6]uint64{}}, eperm},
		{"admin keeps kexec_load out", admin, call{auditArchX8664, nr(t, x, "kexec_load"), [6]uint64{}}, eperm},
		{"i386 read", x86, call{auditArchI386, nr(t, abiI386, "read"), [6]uint64{}}, allow},
		{"i386 socketcall", x86, call{auditArchI386, nr(t, abiI386, "socketcall"), [6]uint64{}}, allow},
		{"i386 mount", x86, call{auditArchI386, nr(t, abiI386, "mount"), [6]uint64{}}, eperm},
		{"i386 x86_64's mount number", x86, call{auditArchI386, nr(t, x, "mount"), [6]uint64{}}, allow},
		{"i386 clone3", x86, call{auditArchI386, nr(t, abiI386, "clone3"), [6]uint64{}}, enosys},
		{"i386 clone newuser", x86, call{auditArchI386, nr(t, abiI386, "clone"), [6]uint64{newUser}}, eperm},
		{"i386 admin mount", admin, call{auditArchI386, nr(t, abiI386, "mount"), [6]uint64{}}, allow},
		{"aarch64 read", arm, call{auditArchAArch64, nr(t, abiAArch64, "read"), [6]uint64{}}, allow},
		{"aarch64 mount", arm, call{auditArchAArch64, nr(t, abiAArch64, "mount"), [6]uint64{}}, eperm},
		{"aarch64 clone newuser", arm, call{auditArchAArch64, nr(t, abiAArch64, "clone"), [6]uint64{newUser}}, eperm},
		{"aarch64 clone3", arm, call{auditArchAArch64, nr(t, abiAArch64, "clone3"), [6]uint64{}}, enosys},
		{"aarch64 x86_64 arch", arm, call{auditArchX8664, 0, [6]uint64{}}, eperm},
		{"arm read", arm, call{auditArchARM, nr(t, abiARM, "read"), [6]uint64{}}, allow},
		{"arm cacheflush", arm, call{auditArchARM, nr(t, abiARM, "cacheflush"), [6]uint64{}}, allow},
		{"arm mount", arm, call{auditArchARM, nr(t, abiARM, "mount"), [6]uint64{}}, eperm},
		{"arm past the profile", arm, call{auditArchARM, 1000, [6]uint64{}}, enosys},
		{"arm private call not in the profile", arm, call{auditArchARM, nr(t, abiARM, "usr26"), [6]uint64{}}, eperm},
		{"arm unknown private number", arm, call{auditArchARM, armPrivateBase + 0x100, [6]uint64{}}, eperm},
		{"i386 past the profile", x86, call{auditArchI386, 2000, [6]uint64{}}, enosys},
		{"aarch64 past the profile", arm, call{auditArchAArch64, 2000, [6]uint64{}}, enosys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := mustCompile(t, Default(), tt.target)
			if got := runBPF(t, prog, tt.call); got != tt.want {
				t.Errorf("filter(arch %#x, nr %d, args %#x) = %#x, want %#x", tt.call.arch, tt.call.nr, tt.call.args[:2], got, tt.want)
			}
		})
	}
}

// TestDefaultProfileAllowlist checks every syscall of the x86_64 table against the profile
// resolved by hand: allowed exactly when an unconditional ALLOW rule names it, else EPERM, or
// ENOSYS when it is newer than every call the profile names.
func TestDefaultProfileAllowlist(t *testing.T) {
	tg := Target{Arch: specs.ArchX86_64, Caps: dockerCaps, Kernel: KernelVersion{Kernel: 6, Major: 18}}
	p := Default()
	prog := mustCompile(t, p, tg)
	allowed := map[string]bool{}
	conditional := map[string]bool{}
	var largest uint32
	for _, s := range resolve(p, "amd64", capSet(tg.Caps), tg.Kernel) {
		for _, n := range s.Names {
			if nr, ok := abiX8664.lookup(n); ok && nr > largest {
				largest = nr
			}
			if len(s.Args) > 0 || s.Action != specs.ActAllow {
				conditional[n] = true
			} else {
				allowed[n] = true
			}
		}
	}
	if len(allowed) < 300 {
		t.Fatalf("only %d syscalls allowed unconditionally, the default profile has more", len(allowed))
	}
	for _, s := range abiX8664.table {
		if conditional[s.name] {
			continue
		}
		want := uint32(eperm)
		switch {
		case allowed[s.name]:
			want = allow
		case s.nr > largest:
			want = enosys
		}
		if got := runBPF(t, prog, call{arch: auditArchX8664, nr: s.nr}); got != want {
			t.Errorf("filter(%s = %d) = %#x, want %#x", s.name, s.nr, got, want)
		}
	}
}

func TestCompileProfiles(t *testing.T) {
	read := sysnum{name: "read", nr: nr(t, abiX8664, "read")}
	tg := Target{Arch: specs.ArchX86_64}
	tests := []struct {
		name    string
		profile string
		call    call
		want    uint32
	}{
		{"default errnoRet", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38}`, call{arch: auditArchX8664, nr: 1}, retErrno | 38},
		{"default allow, one kill", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["write"],"action":"SCMP_ACT_KILL_PROCESS"}]}`, call{arch: auditArchX8664, nr: 1}, retKillProcess},
		{"default allow keeps others", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["write"],"action":"SCMP_ACT_KILL"}]}`, call{arch: auditArchX8664, nr: 0}, allow},
		{"default allow refuses x32", `{"defaultAction":"SCMP_ACT_ALLOW"}`, call{arch: auditArchX8664, nr: x32Bit | 1}, eperm},
		{"no architectures: no i386", `{"defaultAction":"SCMP_ACT_ALLOW"}`, call{arch: auditArchI386, nr: 3}, eperm},
		{"architectures lists i386", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"]}`, call{arch: auditArchI386, nr: 3}, allow},
		{"trap and errno", `{"defaultAction":"SCMP_ACT_TRAP","syscalls":[{"name":"read","action":"SCMP_ACT_ERRNO","errnoRet":5}]}`, call{arch: auditArchX8664, nr: read.nr}, retErrno | 5},
		{"trap default", `{"defaultAction":"SCMP_ACT_TRAP","syscalls":[{"name":"write","action":"SCMP_ACT_LOG"}]}`, call{arch: auditArchX8664, nr: read.nr}, retTrap},
		{"trap default past the profile", `{"defaultAction":"SCMP_ACT_TRAP","syscalls":[{"name":"read","action":"SCMP_ACT_LOG"}]}`, call{arch: auditArchX8664, nr: 1}, enosys},
		{"allow default past the profile", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","action":"SCMP_ACT_KILL"}]}`, call{arch: auditArchX8664, nr: 1}, allow},
		{"errno ENOSYS default", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[{"name":"write","action":"SCMP_ACT_ALLOW"}]}`, call{arch: auditArchX8664, nr: 0}, enosys},
		{"log", `{"defaultAction":"SCMP_ACT_TRAP","syscalls":[{"name":"read","action":"SCMP_ACT_LOG"}]}`, call{arch: auditArchX8664, nr: read.nr}, retLog},
		{"trace without errnoRet", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","action":"SCMP_ACT_TRACE"}]}`, call{arch: auditArchX8664, nr: read.nr}, retTrace | 1},
		{"unknown names skipped", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["no_such_call","read"],"action":"SCMP_ACT_ALLOW"}]}`, call{arch: auditArchX8664, nr: read.nr}, allow},
		{"strictest rule wins", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
			{"names":["read"],"action":"SCMP_ACT_ALLOW"},
			{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":0,"value":7,"op":"SCMP_CMP_EQ"}]}]}`,
			call{arch: auditArchX8664, nr: read.nr, args: [6]uint64{7}}, retErrno | 13},
		{"strictest rule wins, no match", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
			{"names":["read"],"action":"SCMP_ACT_ALLOW"},
			{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":0,"value":7,"op":"SCMP_CMP_EQ"}]}]}`,
			call{arch: auditArchX8664, nr: read.nr, args: [6]uint64{8}}, allow},
		{"args on different indexes AND", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[
			{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":2,"value":5,"op":"SCMP_CMP_GT"}]}]}`,
			call{arch: auditArchX8664, nr: read.nr, args: [6]uint64{1, 0, 5}}, eperm},
		{"args on different indexes AND, both hold", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[
			{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":2,"value":5,"op":"SCMP_CMP_GT"}]}]}`,
			call{arch: auditArchX8664, nr: read.nr, args: [6]uint64{1, 0, 6}}, allow},
		{"args on one index OR", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[
			{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]}]}`,
			call{arch: auditArchX8664, nr: read.nr, args: [6]uint64{2}}, allow},
		{"arg 5", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[
			{"index":5,"value":9,"op":"SCMP_CMP_NE"}]}]}`,
			call{arch: auditArchX8664, nr: read.nr, args: [6]uint64{9, 9, 9, 9, 9, 8}}, allow},
		{"excluded by arch", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["amd64"]}}]}`,
			call{arch: auditArchX8664, nr: read.nr}, eperm},
		{"included by arch", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64","amd64"]}}]}`,
			call{arch: auditArchX8664, nr: read.nr}, allow},
		{"include needs every cap", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN","CAP_BPF"]}}]}`,
			call{arch: auditArchX8664, nr: read.nr}, eperm},
		{"include min kernel met", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"0.1"}}]}`,
			call{arch: auditArchX8664, nr: read.nr}, eperm}, // the zero Target kernel meets no minKernel
		{"exclude min kernel unmet", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"0.1"}}]}`,
			call{arch: auditArchX8664, nr: read.nr}, allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.profile))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			prog := mustCompile(t, p, tg)
			if got := runBPF(t, prog, tt.call); got != tt.want {
				t.Errorf("filter(arch %#x, nr %d, args %#x) = %#x, want %#x", tt.call.arch, tt.call.nr, tt.call.args, got, tt.want)
			}
		})
	}
}

func TestResolveCapsAndKernel(t *testing.T) {
	const profile = `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
		{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"],"minKernel":"5.10"}},
		{"names":["write"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMIN"]}},
		{"names":["exit_group"],"action":"SCMP_ACT_ALLOW"}]}`
	read, _ := abiX8664.lookup("read")
	write, _ := abiX8664.lookup("write")
	tests := []struct {
		name                string
		caps                []string
		kernel              KernelVersion
		wantRead, wantWrite uint32
	}{
		{"no caps", nil, KernelVersion{Kernel: 6, Major: 1}, eperm, allow},
		{"admin, new kernel", []string{"sys_admin"}, KernelVersion{Kernel: 6, Major: 1}, allow, eperm},
		{"admin, same kernel", []string{"CAP_SYS_ADMIN"}, KernelVersion{Kernel: 5, Major: 10}, allow, eperm},
		{"admin, older major", []string{"CAP_SYS_ADMIN"}, KernelVersion{Kernel: 5, Major: 9}, eperm, eperm},
		{"admin, older kernel", []string{"CAP_SYS_ADMIN"}, KernelVersion{Kernel: 4, Major: 19}, eperm, eperm},
	}
	p, err := Parse([]byte(profile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := mustCompile(t, p, Target{Arch: specs.ArchX86_64, Caps: tt.caps, Kernel: tt.kernel})
			if got := runBPF(t, prog, call{arch: auditArchX8664, nr: read}); got != tt.wantRead {
				t.Errorf("read = %#x, want %#x", got, tt.wantRead)
			}
			if got := runBPF(t, prog, call{arch: auditArchX8664, nr: write}); got != tt.wantWrite {
				t.Errorf("write = %#x, want %#x", got, tt.wantWrite)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, profile string
	}{
		{"not json", `{"defaultAction":`},
		{"trailing data", `{"defaultAction":"SCMP_ACT_ALLOW"} {}`},
		{"no default action", `{"syscalls":[]}`},
		{"unknown default action", `{"defaultAction":"SCMP_ACT_MAYBE"}`},
		{"unknown action", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"ALLOW"}]}`},
		{"notify", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}`},
		{"errnoRet with allow", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":1}]}`},
		{"errnoRet too big", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}`},
		{"unknown operator", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]}]}`},
		{"argument index 6", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`},
		{"name and names", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}`},
		{"architectures and archMap", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`},
		{"unknown architecture", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_FOO"]}`},
		{"unknown archMap arch", `{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86","X86_32"]}]}`},
		{"null rule", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[null]}`},
		{"bad min kernel", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"six"}}]}`},
		{"unknown flag", `{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_TSYNC"]}`},
		{"listener", `{"defaultAction":"SCMP_ACT_ERRNO","listenerPath":"/run/x.sock"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.profile))
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse(%s) = %v, want %v", tt.profile, err, ErrInvalid)
			}
		})
	}
}

func TestParseDefaultJSON(t *testing.T) {
	// Docker ships the default profile as JSON too (profiles/seccomp/default.json); the Go
	// value, marshalled and parsed back, compiles to the same program.
	data, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(default profile json): %v", err)
	}
	tg := Target{Arch: specs.ArchX86_64, Caps: dockerCaps, Kernel: KernelVersion{Kernel: 6, Major: 18}}
	got, want := mustCompile(t, p, tg), mustCompile(t, Default(), tg)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("compiled from json: %d instructions, from Default(): %d, and they differ", len(got), len(want))
	}
}

func TestCompileUnsupportedArch(t *testing.T) {
	_, err := Compile(Default(), Target{Arch: specs.ArchS390X})
	if !errors.Is(err, ErrUnsupportedArch) {
		t.Errorf("Compile(s390x) = %v, want %v", err, ErrUnsupportedArch)
	}
}

func TestParseKernel(t *testing.T) {
	tests := []struct {
		release string
		want    KernelVersion
		wantErr bool
	}{
		{"6.18.0-1-amd64", KernelVersion{Kernel: 6, Major: 18}, false},
		{"3.12-1-amd64", KernelVersion{Kernel: 3, Major: 12}, false},
		{"5.4", KernelVersion{Kernel: 5, Major: 4}, false},
		{"linux", KernelVersion{}, true},
		{"", KernelVersion{}, true},
	}
	for _, tt := range tests {
		got, err := ParseKernel(tt.release)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseKernel(%q) = %v, %v, want %v (error %v)", tt.release, got, err, tt.want, tt.wantErr)
		}
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	tg := Target{Arch: specs.ArchX86_64, Caps: dockerCaps, Kernel: KernelVersion{Kernel: 6, Major: 18}}
	var n int
	for b.Loop() {
		prog, err := Compile(Default(), tg)
		if err != nil {
			b.Fatal(err)
		}
		n = len(prog.Filter)
	}
	b.ReportMetric(float64(n), "instructions")
}
