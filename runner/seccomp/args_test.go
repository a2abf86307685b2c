package seccomp

import (
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ops are the comparison operators, in the order the fuzz target indexes them.
var ops = []specs.LinuxSeccompOperator{
	specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
	specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual,
}

// holds is what the comparison means on 64-bit values (unsigned, as libseccomp compares).
func holds(op specs.LinuxSeccompOperator, arg, value, valueTwo uint64) bool {
	switch op {
	case specs.OpEqualTo:
		return arg == value
	case specs.OpNotEqual:
		return arg != value
	case specs.OpLessThan:
		return arg < value
	case specs.OpLessEqual:
		return arg <= value
	case specs.OpGreaterThan:
		return arg > value
	case specs.OpGreaterEqual:
		return arg >= value
	case specs.OpMaskedEqual:
		return arg&value == valueTwo
	}
	panic("unknown operator " + op)
}

// checkArg compiles "allow read when args[index] op value" and runs it on arg.
func checkArg(t testing.TB, op specs.LinuxSeccompOperator, index uint, arg, value, valueTwo uint64) {
	t.Helper()
	p := &Profile{}
	p.DefaultAction = specs.ActErrno
	p.Syscalls = []*Syscall{{LinuxSyscall: specs.LinuxSyscall{
		Names:  []string{"read"},
		Action: specs.ActAllow,
		Args:   []specs.LinuxSeccompArg{{Index: index, Value: value, ValueTwo: valueTwo, Op: op}},
	}}}
	prog := mustCompile(t, p, Target{Arch: specs.ArchX86_64})
	var c call
	c.arch = auditArchX8664
	c.nr, _ = abiX8664.lookup("read")
	// The other arguments hold the complement, so a check of the wrong slot shows.
	for i := range c.args {
		c.args[i] = ^arg
	}
	c.args[index] = arg
	want := uint32(eperm)
	if holds(op, arg, value, valueTwo) {
		want = allow
	}
	if got := runBPF(t, prog, c); got != want {
		t.Errorf("args[%d]=%#x %s %#x (two %#x) = %#x, want %#x", index, arg, op, value, valueTwo, got, want)
	}
}

// TestArgComparisons runs each operator over values whose halves differ in every way that
// matters: equal high halves with the low halves deciding, and the reverse.
func TestArgComparisons(t *testing.T) {
	values := []uint64{
		0, 1, 2, 0xffffffff, 0x100000000, 0x100000001, 0x1ffffffff, 0x200000000,
		0x7fffffffffffffff, 0x8000000000000000, 0xfffffffffffffffe, 0xffffffffffffffff,
	}
	for _, op := range ops {
		for idx, arg := range values {
			for _, value := range values {
				// Spread the argument slots over the runs: every index gets covered.
				index := uint(idx % 6)
				t.Run(fmt.Sprintf("%s/%d/%#x/%#x", op, index, arg, value), func(t *testing.T) {
					checkArg(t, op, index, arg, value, value&0xf0000000f)
				})
			}
		}
	}
}

func FuzzArgComparison(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint64(1), uint64(1), uint64(0))
	f.Add(uint8(4), uint8(2), uint64(0x100000000), uint64(0xffffffff), uint64(0))
	f.Add(uint8(6), uint8(5), uint64(0x1234_0000_5678), uint64(0xffff_0000_ff00), uint64(0x1234_0000_5600))
	f.Fuzz(func(t *testing.T, op, index uint8, arg, value, valueTwo uint64) {
		checkArg(t, ops[int(op)%len(ops)], uint(index%6), arg, value, valueTwo)
	})
}
