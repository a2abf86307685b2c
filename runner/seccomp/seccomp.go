// Package seccomp compiles a seccomp profile in Docker's JSON shape (moby/profiles/seccomp)
// into a classic BPF program for seccomp(SECCOMP_SET_MODE_FILTER), in Go: no libseccomp.
//
// Terms:
//   - profile: the JSON document (Profile), Docker's default or a user's file: a default
//     action, rules naming syscalls with an action, optional argument conditions, and
//     includes/excludes that keep a rule only for some capabilities, arches or kernels;
//   - target: what the rules are resolved against (Target): the native arch, the
//     container's capabilities (its bounding set, as Docker), and the kernel version;
//   - ABI: one syscall numbering the kernel accepts from a process (x86_64; i386 through
//     int 0x80; x32). The program has one section per ABI it covers, each with its own numbers.
//
// Compile resolves the rules, looks each name up in every covered ABI's table (a name the
// table lacks is skipped, as runc does), and emits, per ABI, a binary search over syscall
// numbers down to either a return or the syscall's argument checks. Classic BPF compares 32
// bits at a time, so each 64-bit argument comparison checks both halves. Where libseccomp
// leaves behaviour open, Compile follows what runc does with it: conditions on one argument
// are alternatives, calls newer than the profile fail with ENOSYS, and when several rules
// match a call, the strictest action wins (as between stacked filters in the kernel).
//
// The tables (zsyscalls.go) are generated from golang.org/x/sys/unix by gen_syscalls.go.
package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Profile is a seccomp profile as Docker writes it (moby/profiles/seccomp.Seccomp): the
// runtime-spec LinuxSeccomp plus archMap and conditional syscall rules.
type Profile = mobyseccomp.Seccomp

// Syscall is one rule of a Profile: names, an action, argument conditions, includes and
// excludes.
type Syscall = mobyseccomp.Syscall

// KernelVersion is the "<kernel>.<major>" of minKernel conditions and of the host.
type KernelVersion = mobyseccomp.KernelVersion

// Sentinels callers can branch on.
var (
	// ErrInvalid marks a profile that cannot be compiled: an unknown action, operator or
	// flag, a bad argument index, conflicting fields.
	ErrInvalid = errors.New("invalid seccomp profile")
	// ErrUnsupportedArch is returned for a target arch without a syscall table here.
	ErrUnsupportedArch = errors.New("no seccomp syscall table for this architecture")
)

// Default returns Docker's default profile: an allowlist of ~400 syscalls, EPERM for the
// rest, with the calls that need a capability allowed only when the container has it.
// Each call returns a fresh copy, which the caller may change.
func Default() *Profile {
	return mobyseccomp.DefaultProfile()
}

// Parse decodes a profile from JSON and checks that Compile can handle every action,
// operator and flag in it, so that a bad file is reported where it is read, not when a
// container starts. Unknown syscall names are not errors: each table skips what it lacks.
func Parse(data []byte) (*Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: decoding json: %w", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the json object", ErrInvalid)
	}
	if err := Validate(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks a profile without compiling it, as Parse does; errors wrap ErrInvalid.
func Validate(p *Profile) error {
	if err := validate(p); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func validate(p *Profile) error {
	if p.DefaultAction == "" {
		return errors.New("no defaultAction")
	}
	if _, err := actionValue(p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return fmt.Errorf("defaultAction: %w", err)
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return errors.New("both architectures and archMap are set")
	}
	for _, a := range p.Architectures {
		if !knownArch(a) {
			return fmt.Errorf("architectures: %s is not a valid arch for seccomp", quoteArch(a))
		}
	}
	for _, m := range p.ArchMap {
		for _, a := range append([]specs.Arch{m.Arch}, m.SubArches...) {
			if !knownArch(a) {
				return fmt.Errorf("archMap: %s is not a valid arch for seccomp", quoteArch(a))
			}
		}
	}
	if p.ListenerPath != "" {
		return errors.New("listenerPath: user notification is not supported")
	}
	if _, err := filterFlags(p.Flags); err != nil {
		return err
	}
	if len(p.LinuxSeccomp.Syscalls) != 0 {
		// Profile's own Syscalls field shadows this one in JSON; only Go callers can set it.
		return errors.New("LinuxSeccomp.Syscalls is set, use Syscalls")
	}
	for i, s := range p.Syscalls {
		if s == nil {
			return fmt.Errorf("syscalls[%d] is null", i)
		}
		if err := validateRule(s); err != nil {
			return fmt.Errorf("syscalls[%d] (%s): %w", i, strings.Join(ruleNames(s), " "), err)
		}
	}
	return nil
}

// validateRule checks one syscalls entry.
func validateRule(s *mobyseccomp.Syscall) error {
	if s.Name != "" && len(s.Names) != 0 {
		return errors.New("both name and names are set")
	}
	if _, err := actionValue(s.Action, s.ErrnoRet); err != nil {
		return err
	}
	for _, a := range s.Args {
		if a.Index >= 6 {
			return fmt.Errorf("argument index %d, syscalls have 6", a.Index)
		}
		if !knownOp(a.Op) {
			return fmt.Errorf("unknown operator %q", a.Op)
		}
	}
	for _, f := range []*mobyseccomp.Filter{s.Includes, s.Excludes} {
		if f != nil && f.MinKernel != nil && f.MinKernel.Kernel == 0 && f.MinKernel.Major == 0 {
			return errors.New("minKernel 0.0")
		}
	}
	return nil
}

// ruleNames is the names a rule applies to, for messages.
func ruleNames(s *mobyseccomp.Syscall) []string {
	if s.Name != "" {
		return []string{s.Name}
	}
	return s.Names
}

// knownOp says whether op is one of the runtime-spec comparison operators.
func knownOp(op specs.LinuxSeccompOperator) bool {
	switch op {
	case specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
		specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual:
		return true
	}
	return false
}

// knownArches are the architectures a profile may name (the runtime spec's, libseccomp's):
// runc refuses any other ("not a valid arch for seccomp"), where strata ignored it, so a
// typo in a profile's list of compat ABIs went unnoticed.
var knownArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
	specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
	specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64,
	specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}

func knownArch(a specs.Arch) bool {
	return slices.ContainsFunc(knownArches, func(k specs.Arch) bool { return strings.EqualFold(string(a), string(k)) })
}

// quoteArch quotes a profile's arch name for an error, cut short: it is the user's file.
func quoteArch(a specs.Arch) string {
	s := string(a)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}
