package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestConstants pins the numbers this package writes out (so it builds off Linux) to the
// kernel headers' values as x/sys/unix carries them.
func TestConstants(t *testing.T) {
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"AUDIT_ARCH_X86_64", auditArchX8664, unix.AUDIT_ARCH_X86_64},
		{"AUDIT_ARCH_I386", auditArchI386, unix.AUDIT_ARCH_I386},
		{"AUDIT_ARCH_AARCH64", auditArchAArch64, unix.AUDIT_ARCH_AARCH64},
		{"AUDIT_ARCH_ARM", auditArchARM, unix.AUDIT_ARCH_ARM},
		{"BPF_LD|BPF_W|BPF_ABS", opLoadAbs, unix.BPF_LD | unix.BPF_W | unix.BPF_ABS},
		{"BPF_ALU|BPF_AND|BPF_K", opAndK, unix.BPF_ALU | unix.BPF_AND | unix.BPF_K},
		{"BPF_JMP|BPF_JA", opJa, unix.BPF_JMP | unix.BPF_JA},
		{"BPF_JMP|BPF_JEQ|BPF_K", opJeqK, unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K},
		{"BPF_JMP|BPF_JGT|BPF_K", opJgtK, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K},
		{"BPF_JMP|BPF_JGE|BPF_K", opJgeK, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K},
		{"BPF_RET|BPF_K", opRetK, unix.BPF_RET | unix.BPF_K},
		{"SECCOMP_RET_KILL_PROCESS", retKillProcess, unix.SECCOMP_RET_KILL_PROCESS},
		{"SECCOMP_RET_KILL_THREAD", retKillThread, unix.SECCOMP_RET_KILL_THREAD},
		{"SECCOMP_RET_TRAP", retTrap, unix.SECCOMP_RET_TRAP},
		{"SECCOMP_RET_ERRNO", retErrno, unix.SECCOMP_RET_ERRNO},
		{"SECCOMP_RET_TRACE", retTrace, unix.SECCOMP_RET_TRACE},
		{"SECCOMP_RET_LOG", retLog, unix.SECCOMP_RET_LOG},
		{"SECCOMP_RET_ALLOW", retAllow, unix.SECCOMP_RET_ALLOW},
		{"SECCOMP_RET_DATA", retData, unix.SECCOMP_RET_DATA},
		{"SECCOMP_RET_ACTION_FULL", retActionFull, unix.SECCOMP_RET_ACTION_FULL},
		{"SECCOMP_FILTER_FLAG_LOG", flagLog, unix.SECCOMP_FILTER_FLAG_LOG},
		{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", flagSpecAllow, unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{"EPERM", epermErrno, uint64(unix.EPERM)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
}

// TestNativeTable checks the generated table of the arch the tests run on against x/sys/unix
// directly, for a few calls whose numbers differ between arches.
func TestNativeTable(t *testing.T) {
	p, ok := platformOf(NativeArch())
	if !ok {
		t.Skipf("skipping: no syscall table for this architecture")
	}
	tests := []struct {
		name string
		want uint32
	}{
		{"read", unix.SYS_READ},
		{"mount", unix.SYS_MOUNT},
		{"clone3", unix.SYS_CLONE3},
		{"personality", unix.SYS_PERSONALITY},
		{"unshare", unix.SYS_UNSHARE},
	}
	for _, tt := range tests {
		if got, ok := p.native.lookup(tt.name); !ok || got != tt.want {
			t.Errorf("lookup(%q) = %d, %v, want %d", tt.name, got, ok, tt.want)
		}
	}
}
