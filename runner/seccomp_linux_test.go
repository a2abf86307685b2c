package runner

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// runBPF interprets the classic BPF subset seccompFilter emits over one seccomp_data, as the
// kernel would, and returns the filter's verdict.
func runBPF(t *testing.T, prog []unix.SockFilter, arch uint32, nr int, arg0 uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], uint32(nr))
	binary.LittleEndian.PutUint32(data[4:], arch)
	binary.LittleEndian.PutUint64(data[16:], arg0)
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case bpfLdWAbs:
			a = binary.LittleEndian.Uint32(data[in.K:])
		case bpfJeqK, bpfJgeK, bpfJsetK:
			var cond bool
			switch in.Code {
			case bpfJeqK:
				cond = a == in.K
			case bpfJgeK:
				cond = a >= in.K
			default:
				cond = a&in.K != 0
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case bpfRetK:
			return in.K
		default:
			t.Fatalf("instruction %d: unknown opcode %#x", pc, in.Code)
		}
	}
	t.Fatalf("program fell off its end")
	return 0
}

func TestSeccompFilter(t *testing.T) {
	if len(seccompABIs) == 0 {
		t.Skip("skipping: no seccomp syscall table for this architecture")
	}
	native := seccompABIs[0].arch
	const i386 = unix.AUDIT_ARCH_I386
	eperm := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM))
	enosys := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	defaults, err := capabilities(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	withAdmin, err := capabilities(Spec{CapAdd: []string{"SYS_ADMIN", "SYS_PTRACE"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		caps []int
		arch uint32
		nr   int
		arg0 uint64
		want uint32
	}{
		{"read allowed", defaults, native, unix.SYS_READ, 0, allow},
		{"execve allowed", defaults, native, unix.SYS_EXECVE, 0, allow},
		{"mount denied", defaults, native, unix.SYS_MOUNT, 0, eperm},
		{"umount2 denied", defaults, native, unix.SYS_UMOUNT2, 0, eperm},
		{"kexec denied", defaults, native, unix.SYS_KEXEC_LOAD, 0, eperm},
		{"init_module denied", defaults, native, unix.SYS_INIT_MODULE, 0, eperm},
		{"keyctl denied", defaults, native, unix.SYS_KEYCTL, 0, eperm},
		{"last in table denied", defaults, native, deniedX8664[len(deniedX8664)-1].nr, 0, eperm},
		{"first in table denied", defaults, native, deniedX8664[0].nr, 0, eperm},
		{"clone3 enosys", defaults, native, unix.SYS_CLONE3, 0, enosys},
		{"clone thread allowed", defaults, native, unix.SYS_CLONE, unix.CLONE_VM | unix.CLONE_THREAD, allow},
		{"clone newuser denied", defaults, native, unix.SYS_CLONE, unix.CLONE_NEWUSER, eperm},
		{"unshare newns denied", defaults, native, unix.SYS_UNSHARE, unix.CLONE_NEWNS, eperm},
		{"unshare files allowed", defaults, native, unix.SYS_UNSHARE, unix.CLONE_FILES, allow},
		{"foreign arch denied", defaults, unix.AUDIT_ARCH_AARCH64, unix.SYS_READ, 0, eperm},
		{"i386 read allowed", defaults, i386, 3, 0, allow},
		{"i386 mount denied", defaults, i386, 21, 0, eperm},
		{"i386 x86_64 mount number allowed", defaults, i386, unix.SYS_MOUNT, 0, allow},
		{"i386 clone3 enosys", defaults, i386, 435, 0, enosys},
		{"i386 clone newuser denied", defaults, i386, 120, unix.CLONE_NEWUSER, eperm},
		{"i386 clone thread allowed", defaults, i386, 120, unix.CLONE_VM | unix.CLONE_THREAD, allow},
		{"i386 last in table denied", defaults, i386, deniedI386[len(deniedI386)-1].nr, 0, eperm},
		{"i386 sys_admin lifts mount", withAdmin, i386, 21, 0, allow},
		{"x32 denied", defaults, native, x32SyscallBit | unix.SYS_READ, 0, eperm},
		{"sys_admin lifts mount", withAdmin, native, unix.SYS_MOUNT, 0, allow},
		{"sys_admin lifts clone newuser", withAdmin, native, unix.SYS_CLONE, unix.CLONE_NEWUSER, allow},
		{"sys_ptrace lifts ptrace", withAdmin, native, unix.SYS_PTRACE, 0, allow},
		{"sys_admin keeps keyctl denied", withAdmin, native, unix.SYS_KEYCTL, 0, eperm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := seccompFilter(tt.caps)
			if err != nil {
				t.Fatal(err)
			}
			if got := runBPF(t, prog, tt.arch, tt.nr, tt.arg0); got != tt.want {
				t.Errorf("filter(nr %d, arg0 %#x) = %#x, want %#x", tt.nr, tt.arg0, got, tt.want)
			}
		})
	}
}

func TestRunSeccomp(t *testing.T) {
	// unshare -U needs no capability, so only the filter stops it; unconfined lets it through.
	tests := []struct {
		seccomp string
		want    string
	}{
		{SeccompDefault, "refused"},
		{SeccompUnconfined, "allowed"},
	}
	for _, tt := range tests {
		t.Run("seccomp="+tt.seccomp, func(t *testing.T) {
			spec := testSpec(t, "sh", "-c", "unshare -U true 2>/dev/null && echo allowed || echo refused")
			spec.Seccomp = tt.seccomp
			if got := mustRun(t, spec); got != tt.want {
				t.Errorf("unshare -U with seccomp %q: %s, want %s", tt.seccomp, got, tt.want)
			}
		})
	}
}
