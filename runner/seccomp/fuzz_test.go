package seccomp

import (
	"encoding/json"
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCompile feeds hostile profiles to Parse and Compile: they must return an error or a
// program whose every path ends in a return inside the program (runBPF fails the test on a
// jump out of it), never panic.
func FuzzCompile(f *testing.F) {
	def, err := json.Marshal(Default())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def, uint32(0), uint64(0))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]}]}`), uint32(0), uint64(2))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_KILL","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],"syscalls":[{"name":"write","action":"SCMP_ACT_TRAP","includes":{"minKernel":"4.1"}}]}`), uint32(1), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, nr uint32, arg uint64) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, arch := range []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64} {
			prog, err := Compile(p, Target{Arch: arch, Caps: dockerCaps, Kernel: KernelVersion{Kernel: 6, Major: 1}})
			if errors.Is(err, errTooLong) {
				continue // too long for the kernel: refused, as it should be
			}
			if err != nil {
				t.Fatalf("Compile of a parsed profile: %v", err)
			}
			for _, audit := range []uint32{auditArchX8664, auditArchI386, auditArchAArch64, auditArchARM} {
				runBPF(t, prog.Filter, call{arch: audit, nr: nr, args: [6]uint64{arg, arg, arg, arg, arg, arg}})
			}
		}
	})
}
