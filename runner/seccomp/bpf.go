package seccomp

import (
	"errors"
	"fmt"
)

// Instruction is one classic BPF instruction, laid out as struct sock_filter
// (linux/filter.h), so a []Instruction converts to x/sys/unix's []SockFilter field by field.
type Instruction struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// The classic BPF opcodes the compiler emits (linux/bpf_common.h); see the audit arches in
// arch.go for why they are written out.
const (
	opLoadAbs = 0x00 | 0x00 | 0x20 // BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at K
	opAndK    = 0x04 | 0x50 | 0x00 // BPF_ALU | BPF_AND | BPF_K: A &= K
	opJa      = 0x05 | 0x00        // BPF_JMP | BPF_JA: skip K instructions
	opJeqK    = 0x05 | 0x10 | 0x00 // BPF_JMP | BPF_JEQ | BPF_K
	opJgtK    = 0x05 | 0x20 | 0x00 // BPF_JMP | BPF_JGT | BPF_K (unsigned)
	opJgeK    = 0x05 | 0x30 | 0x00 // BPF_JMP | BPF_JGE | BPF_K (unsigned)
	opRetK    = 0x06 | 0x00        // BPF_RET | BPF_K: return K
)

// Offsets into struct seccomp_data (linux/seccomp.h): int nr; __u32 arch; __u64
// instruction_pointer; __u64 args[6]. The args are in the host's byte order; every arch this
// package knows is little-endian, so the low half of args[i] comes first.
const (
	dataNr   = 0
	dataArch = 4
	dataArgs = 16
)

// argLow and argHigh are the seccomp_data offsets of the two 32-bit halves of args[i].
func argLow(i uint) uint32  { return dataArgs + 8*uint32(i) }
func argHigh(i uint) uint32 { return argLow(i) + 4 }

// maxInstructions is BPF_MAXINSNS: the kernel refuses longer programs.
const maxInstructions = 4096

// label names a place in the program that jumps refer to before it is known.
type label int

// next is the label of the instruction after a jump (offset 0).
const next label = -1

// pendingInsn is an instruction whose jump targets are still labels.
type pendingInsn struct {
	Instruction
	jt, jf label // conditional jumps
	ja     label // opJa
}

// assembler collects instructions with symbolic jumps and resolves them into offsets.
// Conditional jumps reach at most 255 instructions ahead; the compiler only aims them at
// nearby code and crosses longer distances with opJa, whose offset is 32 bits.
type assembler struct {
	code []pendingInsn
	at   []int // label → instruction index, -1 until bound
}

func (a *assembler) newLabel() label {
	a.at = append(a.at, -1)
	return label(len(a.at) - 1)
}

// bind places l at the next instruction to be emitted.
func (a *assembler) bind(l label) { a.at[l] = len(a.code) }

func (a *assembler) load(off uint32) {
	a.code = append(a.code, pendingInsn{Instruction: Instruction{Code: opLoadAbs, K: off}, jt: next, jf: next, ja: next})
}

func (a *assembler) and(k uint32) {
	a.code = append(a.code, pendingInsn{Instruction: Instruction{Code: opAndK, K: k}, jt: next, jf: next, ja: next})
}

func (a *assembler) jump(op uint16, k uint32, jt, jf label) {
	a.code = append(a.code, pendingInsn{Instruction: Instruction{Code: op, K: k}, jt: jt, jf: jf, ja: next})
}

func (a *assembler) jumpTo(l label) {
	a.code = append(a.code, pendingInsn{Instruction: Instruction{Code: opJa}, jt: next, jf: next, ja: l})
}

func (a *assembler) ret(k uint32) {
	a.code = append(a.code, pendingInsn{Instruction: Instruction{Code: opRetK, K: k}, jt: next, jf: next, ja: next})
}

// errTooLong reports a program over the kernel's instruction limit.
var errTooLong = errors.New("seccomp program too long")

// assemble resolves every label into a forward offset.
func (a *assembler) assemble() ([]Instruction, error) {
	if len(a.code) > maxInstructions {
		return nil, fmt.Errorf("%w: %d instructions, the kernel takes %d", errTooLong, len(a.code), maxInstructions)
	}
	out := make([]Instruction, len(a.code))
	for i, in := range a.code {
		offset := func(l label) (int, error) {
			if l == next {
				return 0, nil
			}
			to := a.at[l]
			if to <= i {
				// A backward or unbound jump is a compiler bug, not a profile problem.
				return 0, fmt.Errorf("instruction %d: jump to unplaced label %d", i, l)
			}
			return to - i - 1, nil
		}
		ins := in.Instruction
		if in.Code == opJa {
			off, err := offset(in.ja)
			if err != nil {
				return nil, err
			}
			ins.K = uint32(off)
		} else {
			jt, err := offset(in.jt)
			if err != nil {
				return nil, err
			}
			jf, err := offset(in.jf)
			if err != nil {
				return nil, err
			}
			if jt > 255 || jf > 255 {
				return nil, fmt.Errorf("instruction %d: conditional jump of %d/%d instructions", i, jt, jf)
			}
			ins.Jt, ins.Jf = uint8(jt), uint8(jf)
		}
		out[i] = ins
	}
	return out, nil
}
