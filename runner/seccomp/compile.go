package seccomp

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Target is what a profile's conditional rules are resolved against.
type Target struct {
	// Arch is the native arch (SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64); "" means NativeArch().
	Arch specs.Arch
	// Caps are the container's capabilities, "CAP_SYS_ADMIN" or "SYS_ADMIN". Docker uses the
	// bounding set, which a non-root user keeps while its effective set is empty.
	Caps []string
	// Kernel is the host's kernel version; the zero value meets no minKernel.
	Kernel KernelVersion
}

// Program is a compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER, Flags, prog).
type Program struct {
	// Filter is the BPF program, at most BPF_MAXINSNS (4096) instructions.
	Filter []Instruction
	// Flags are the SECCOMP_FILTER_FLAG_* the profile asked for.
	Flags uint
}

// rule is one profile rule for one syscall number: when every cond holds, return action.
type rule struct {
	action uint32
	conds  []specs.LinuxSeccompArg
}

// Compile turns profile p into a filter for target t. The program:
//
//	load arch; one jump per covered ABI to its section; EPERM for any other ABI
//	section: load nr; [x32 numbers → EPERM]; binary search over nr ranges →
//	         return, or a jump to the syscall's argument checks
//	checks:  each rule of the syscall, strictest action first; the default action last
//
// Numbers the profile does not name get the default action, except those above the largest
// it names, which fail with ENOSYS when the default refuses (see enosysPastProfile).
func Compile(p *Profile, t Target) (*Program, error) {
	if err := Validate(p); err != nil {
		return nil, err
	}
	if t.Arch == "" {
		t.Arch = NativeArch()
	}
	plat, ok := platformOf(t.Arch)
	if !ok {
		return nil, fmt.Errorf("arch %q: %w", t.Arch, ErrUnsupportedArch)
	}
	// Validate has checked the actions and flags: these cannot fail.
	defaultRet, _ := actionValue(p.DefaultAction, p.DefaultErrnoRet)
	flags, _ := filterFlags(p.Flags)
	ents := entries(resolve(p, plat.native.native, capSet(t.Caps), t.Kernel))

	a := assembler{code: make([]pendingInsn, 0, 1024), at: make([]int, 0, 256)}
	abis := plat.abis(p)
	sections := make([]label, len(abis))
	a.load(dataArch)
	for i, b := range abis {
		sections[i] = a.newLabel()
		other := a.newLabel()
		a.jump(opJeqK, b.audit, next, other)
		a.jumpTo(sections[i])
		a.bind(other)
	}
	a.ret(retErrno | epermErrno)
	for i, b := range abis {
		a.bind(sections[i])
		emitSection(&a, b, ents, defaultRet)
	}
	prog, err := a.assemble()
	if err != nil {
		return nil, fmt.Errorf("compiling seccomp profile: %w", err)
	}
	return &Program{Filter: prog, Flags: flags}, nil
}

// capSet normalizes capability names to "CAP_X".
func capSet(caps []string) map[string]bool {
	set := make(map[string]bool, len(caps))
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		set[c] = true
	}
	return set
}

// resolve keeps the rules whose includes hold and whose excludes do not, as moby's
// setupSeccomp does: an include needs the arch among its arches, every one of its caps, and a
// kernel at least its minKernel; an exclude drops the rule on any one of those.
func resolve(p *Profile, native string, caps map[string]bool, kernel KernelVersion) []*mobyseccomp.Syscall {
	kept := make([]*mobyseccomp.Syscall, 0, len(p.Syscalls))
	for _, s := range p.Syscalls {
		if f := s.Excludes; f != nil {
			if slices.Contains(f.Arches, native) ||
				slices.ContainsFunc(f.Caps, func(c string) bool { return caps[strings.ToUpper(c)] }) ||
				(f.MinKernel != nil && kernelAtLeast(kernel, *f.MinKernel)) {
				continue
			}
		}
		if f := s.Includes; f != nil {
			if (len(f.Arches) > 0 && !slices.Contains(f.Arches, native)) ||
				slices.ContainsFunc(f.Caps, func(c string) bool { return !caps[strings.ToUpper(c)] }) ||
				(f.MinKernel != nil && !kernelAtLeast(kernel, *f.MinKernel)) {
				continue
			}
		}
		kept = append(kept, s)
	}
	return kept
}

// kernelAtLeast compares "<kernel>.<major>" versions.
func kernelAtLeast(have, want KernelVersion) bool {
	if have.Kernel != want.Kernel {
		return have.Kernel > want.Kernel
	}
	return have.Major >= want.Major
}

// rulesFor splits one profile entry into rules. Its conditions all hold together (AND),
// except when two compare the same argument: then each is a rule of its own (OR), which is
// what runc does and what Docker's profiles are written for (runc issue #2735).
func rulesFor(s *mobyseccomp.Syscall, action uint32) []rule {
	if len(s.Args) == 0 {
		return []rule{{action: action}}
	}
	seen := map[uint]bool{}
	for _, c := range s.Args {
		if seen[c.Index] {
			out := make([]rule, len(s.Args))
			for i, c := range s.Args {
				out[i] = rule{action: action, conds: []specs.LinuxSeccompArg{c}}
			}
			return out
		}
		seen[c.Index] = true
	}
	return []rule{{action: action, conds: s.Args}}
}

// interval is a run of syscall numbers from lo up to the next interval's lo that all
// return ret, or, when block is set, the one number whose rules block checks.
type interval struct {
	lo    uint32
	ret   uint32
	rules []rule
	block label
}

// entry is one kept profile rule, its names and its rules, computed once for all ABIs.
type entry struct {
	names []string
	rules []rule
}

// entries prepares the kept rules for emitSection.
// The profile has been validated: actionValue cannot fail here.
func entries(kept []*mobyseccomp.Syscall) []entry {
	out := make([]entry, 0, len(kept))
	for _, s := range kept {
		action, _ := actionValue(s.Action, s.ErrnoRet)
		names := s.Names
		if s.Name != "" {
			names = []string{s.Name}
		}
		out = append(out, entry{names: names, rules: rulesFor(s, action)})
	}
	return out
}

// emitSection writes one ABI's section: the entries looked up in its table.
func emitSection(a *assembler, b *abi, ents []entry, defaultRet uint32) {
	// Each name an entry gives, as nr<<32 | entry index: sorted, by number, then in
	// profile order.
	calls := make([]uint64, 0, 512)
	for i, e := range ents {
		for _, name := range e.names {
			nr, ok := b.lookup(name)
			if !ok {
				// Not a syscall of this ABI (or newer than the table): skipped, as runc does.
				continue
			}
			calls = append(calls, uint64(nr)<<32|uint64(i))
		}
	}
	slices.Sort(calls)
	nrOf := func(c uint64) uint32 { return uint32(c >> 32) }
	entryOf := func(c uint64) int { return int(uint32(c)) }

	// Cut the number space into intervals, merging neighbours that return the same.
	ivs := make([]interval, 1, 128)
	ivs[0] = interval{lo: 0, ret: defaultRet}
	add := func(iv interval) {
		if ivs[len(ivs)-1].lo == iv.lo {
			// Replaces the default interval the previous number opened.
			ivs = ivs[:len(ivs)-1]
		}
		if n := len(ivs); n > 0 && iv.rules == nil && ivs[n-1].rules == nil && ivs[n-1].ret == iv.ret {
			return
		}
		ivs = append(ivs, iv)
	}
	for i := 0; i < len(calls); {
		nr := nrOf(calls[i])
		j := i
		for j < len(calls) && nrOf(calls[j]) == nr {
			j++
		}
		rules := ents[entryOf(calls[i])].rules
		if j-i > 1 {
			rules = nil
			for _, c := range calls[i:j] {
				rules = append(rules, ents[entryOf(c)].rules...)
			}
			// Strictest first (profile order among equals).
			sort.SliceStable(rules, func(x, y int) bool { return precedence(rules[x].action) < precedence(rules[y].action) })
		}
		i = j
		// An unconditional rule ends the list: nothing after it is reached.
		for k, r := range rules {
			if len(r.conds) == 0 {
				rules = rules[:k+1]
				break
			}
		}
		if len(rules) == 1 && len(rules[0].conds) == 0 {
			add(interval{lo: nr, ret: rules[0].action})
		} else {
			add(interval{lo: nr, rules: rules, block: a.newLabel()})
		}
		if nr != ^uint32(0) {
			add(interval{lo: nr + 1, ret: defaultRet})
		}
	}

	enosysPastProfile(ivs, calls, b, defaultRet)

	a.load(dataNr)
	if b.x32 {
		notX32 := a.newLabel()
		a.jump(opJgeK, x32Bit, next, notX32)
		a.ret(retErrno | epermErrno)
		a.bind(notX32)
	}
	emitSearch(a, ivs)
	for _, iv := range ivs {
		if iv.rules == nil {
			continue
		}
		a.bind(iv.block)
		emitChecks(a, iv.rules, defaultRet)
	}
}

// enosysPastProfile makes the numbers above the largest one the profile names fail with
// ENOSYS instead of a refusing default action, as runc does (its patchbpf.go): a syscall
// newer than the profile is one its author could not have meant to forbid, and ENOSYS is
// what makes a libc fall back to an older call, where EPERM makes it give up (glibc and
// faccessat2, runc issue #2151). Numbers from the ABI's private range (ARM's
// __ARM_NR_BASE) neither count as the largest nor get ENOSYS.
func enosysPastProfile(ivs []interval, calls []uint64, b *abi, defaultRet uint32) {
	if precedence(defaultRet) > precedence(retErrno|retData) || len(calls) == 0 {
		return // the default already lets calls through (allow, log, trace)
	}
	var largest uint32
	for _, c := range calls {
		if nr := uint32(c >> 32); nr < b.privateBase() && nr > largest {
			largest = nr
		}
	}
	for i := range ivs {
		if iv := &ivs[i]; iv.lo > largest && iv.lo < b.privateBase() && iv.rules == nil && iv.ret == defaultRet {
			iv.ret = retErrno | enosysErrno
		}
	}
}

// emitSearch writes a binary search over ivs for the number in A. Each split is
// "jge lo → jump to the upper half", with the lower half following; the jump goes through
// OpJa because the upper half may be further than a conditional jump reaches.
func emitSearch(a *assembler, ivs []interval) {
	if len(ivs) == 1 {
		if iv := ivs[0]; iv.rules != nil {
			a.jumpTo(iv.block)
		} else {
			a.ret(iv.ret)
		}
		return
	}
	mid := len(ivs) / 2
	upper, lower := a.newLabel(), a.newLabel()
	a.jump(opJgeK, ivs[mid].lo, next, lower)
	a.jumpTo(upper)
	a.bind(lower)
	emitSearch(a, ivs[:mid])
	a.bind(upper)
	emitSearch(a, ivs[mid:])
}

// emitChecks writes the argument checks of one syscall: each rule's conditions, failing to
// the next rule, then its action; the default action when no rule matched.
func emitChecks(a *assembler, rules []rule, defaultRet uint32) {
	for _, r := range rules {
		if len(r.conds) == 0 {
			a.ret(r.action)
			return
		}
		fail := a.newLabel()
		for _, c := range r.conds {
			emitCond(a, c, fail)
		}
		a.ret(r.action)
		a.bind(fail)
	}
	a.ret(defaultRet)
}

// emitCond writes one 64-bit comparison of args[c.Index] with c.Value: it falls through
// when the comparison holds and jumps to fail when not. Comparisons are unsigned, as
// libseccomp's. Classic BPF sees 32 bits at a time, so the high halves decide unless they
// are equal, and then the low halves do.
func emitCond(a *assembler, c specs.LinuxSeccompArg, fail label) {
	hi, lo := argHigh(c.Index), argLow(c.Index)
	vHi, vLo := uint32(c.Value>>32), uint32(c.Value)
	ok := a.newLabel()
	switch c.Op {
	case specs.OpEqualTo:
		a.load(hi)
		a.jump(opJeqK, vHi, next, fail)
		a.load(lo)
		a.jump(opJeqK, vLo, next, fail)
	case specs.OpNotEqual:
		a.load(hi)
		a.jump(opJeqK, vHi, next, ok)
		a.load(lo)
		a.jump(opJeqK, vLo, fail, ok)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.load(hi)
		a.jump(opJgtK, vHi, ok, next)
		a.jump(opJeqK, vHi, next, fail)
		a.load(lo)
		op := uint16(opJgtK)
		if c.Op == specs.OpGreaterEqual {
			op = opJgeK
		}
		a.jump(op, vLo, ok, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		// a < v is !(a >= v); a <= v is !(a > v).
		a.load(hi)
		a.jump(opJgtK, vHi, fail, next)
		a.jump(opJeqK, vHi, next, ok)
		a.load(lo)
		op := uint16(opJgeK)
		if c.Op == specs.OpLessEqual {
			op = opJgtK
		}
		a.jump(op, vLo, fail, ok)
	case specs.OpMaskedEqual:
		// (arg & Value) == ValueTwo, half by half.
		a.load(hi)
		a.and(vHi)
		a.jump(opJeqK, uint32(c.ValueTwo>>32), next, fail)
		a.load(lo)
		a.and(vLo)
		a.jump(opJeqK, uint32(c.ValueTwo), next, fail)
	}
	a.bind(ok)
}
