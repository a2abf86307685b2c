package seccomp

import (
	"encoding/binary"
	"testing"
)

// call is one syscall as the filter sees it: struct seccomp_data.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// runBPF interprets prog over c the way the kernel's classic BPF interpreter would, for the
// opcodes the compiler emits, and returns the verdict. A jump out of the program, an
// unknown opcode or falling off the end fails the test: the kernel's verifier would refuse
// such a program.
func runBPF(t testing.TB, prog []Instruction, c call) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[dataNr:], c.nr)
	binary.LittleEndian.PutUint32(data[dataArch:], c.arch)
	for i, a := range c.args {
		binary.LittleEndian.PutUint64(data[dataArgs+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case opLoadAbs:
			if in.K%4 != 0 || int(in.K)+4 > len(data) {
				t.Fatalf("instruction %d: load at %d", pc, in.K)
			}
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case opAndK:
			acc &= in.K
		case opJa:
			pc += int(in.K)
		case opJeqK, opJgtK, opJgeK:
			var cond bool
			switch in.Code {
			case opJeqK:
				cond = acc == in.K
			case opJgtK:
				cond = acc > in.K
			default:
				cond = acc >= in.K
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case opRetK:
			return in.K
		default:
			t.Fatalf("instruction %d: unknown opcode %#x", pc, in.Code)
		}
		if pc+1 >= len(prog) {
			t.Fatalf("instruction %d jumps out of the program (%d instructions)", pc, len(prog))
		}
	}
	t.Fatalf("program fell off its end")
	return 0
}
