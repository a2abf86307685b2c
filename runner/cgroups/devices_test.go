package cgroups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func TestDeviceRuleString(t *testing.T) {
	tests := []struct {
		rule DeviceRule
		want string
	}{
		{DeviceRule{Type: 'c', Major: 1, Minor: 3, Access: "rwm"}, "c 1:3 rwm"},
		{DeviceRule{Type: 'b', Major: AnyDevice, Minor: AnyDevice, Access: "m"}, "b *:* m"},
		{DeviceRule{Type: 'c', Major: 136, Minor: AnyDevice, Access: "rw"}, "c 136:* rw"},
		{DeviceRule{Type: 'a', Major: AnyDevice, Minor: AnyDevice, Access: "rwm"}, "a *:* rwm"},
	}
	for _, tt := range tests {
		if got := tt.rule.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.rule, got, tt.want)
		}
		if err := tt.rule.validate(); err != nil {
			t.Errorf("%+v.validate() = %v", tt.rule, err)
		}
	}
}

func TestDeviceRuleInvalid(t *testing.T) {
	for _, r := range []DeviceRule{
		{Type: 'x', Major: 1, Minor: 3, Access: "r"},
		{Type: 'c', Major: 1, Minor: 3, Access: ""},
		{Type: 'c', Major: 1, Minor: 3, Access: "rx"},
		{Type: 'c', Major: -2, Minor: 3, Access: "r"},
		{Type: 'c', Major: 1, Minor: 1 << 40, Access: "r"},
	} {
		if err := r.validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v.validate() = %v, want ErrInvalid", r, err)
		}
		if _, err := deviceProgram([]DeviceRule{r}); !errors.Is(err, ErrInvalid) {
			t.Errorf("deviceProgram(%+v) = %v, want ErrInvalid", r, err)
		}
	}
}

// runDeviceProgram interprets the program the kernel would run for one device access: the
// subset of eBPF deviceProgram emits (32-bit loads, ALU32 and/rsh/mov, jne, exit). It lets the
// rules' meaning be tested without root or a cgroup2 tree; the host test runs the same program
// in the kernel.
func runDeviceProgram(t *testing.T, rules []DeviceRule, typ byte, major, minor uint32, access string) bool {
	t.Helper()
	insns, err := deviceProgram(rules)
	if err != nil {
		t.Fatalf("deviceProgram = %v", err)
	}
	var code bytes.Buffer
	if err := insns.Marshal(&code, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	var acc uint32
	for _, a := range access {
		acc |= map[rune]uint32{'m': accMknod, 'r': accRead, 'w': accWrite}[a]
	}
	dev := uint32(devChar)
	if typ == 'b' {
		dev = devBlock
	}
	ctx := binary.LittleEndian.AppendUint32(nil, acc<<16|dev)
	ctx = binary.LittleEndian.AppendUint32(ctx, major)
	ctx = binary.LittleEndian.AppendUint32(ctx, minor)

	raw := code.Bytes()
	var reg [11]uint64
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || (pc+1)*8 > len(raw) || steps > 10000 {
			t.Fatalf("program ran off its end at instruction %d", pc)
		}
		in := raw[pc*8 : pc*8+8]
		op, dst, src := in[0], in[1]&0xf, in[1]>>4
		off := int16(binary.LittleEndian.Uint16(in[2:]))
		imm := int32(binary.LittleEndian.Uint32(in[4:]))
		switch op {
		case 0x61: // ldxw dst, [src+off]
			if src != 1 || off < 0 || int(off)+4 > len(ctx) {
				t.Fatalf("instruction %d loads outside the context", pc)
			}
			reg[dst] = uint64(binary.LittleEndian.Uint32(ctx[off:]))
		case 0x54: // and32 dst, imm
			reg[dst] = uint64(uint32(reg[dst]) & uint32(imm))
		case 0x74: // rsh32 dst, imm
			reg[dst] = uint64(uint32(reg[dst]) >> uint32(imm))
		case 0xbc: // mov32 dst, src
			reg[dst] = uint64(uint32(reg[src]))
		case 0xb4: // mov32 dst, imm
			reg[dst] = uint64(uint32(imm))
		case 0x55: // jne dst, imm, +off
			if reg[dst] != uint64(int64(imm)) {
				pc += int(off)
			}
		case 0x95: // exit
			return reg[0] == 1
		default:
			t.Fatalf("instruction %d: opcode %#x outside the interpreted subset", pc, op)
		}
	}
}

func TestDeviceProgramDefaults(t *testing.T) {
	tests := []struct {
		typ          byte
		major, minor uint32
		access       string
		want         bool
	}{
		{'c', 1, 3, "rw", true},     // /dev/null
		{'c', 1, 9, "r", true},      // /dev/urandom
		{'c', 5, 2, "rw", true},     // /dev/ptmx
		{'c', 136, 7, "rw", true},   // /dev/pts/7
		{'c', 136, 0, "m", true},    // mknod of a pts
		{'b', 8, 0, "m", true},      // mknod of a disk: allowed...
		{'b', 8, 0, "r", false},     // ...opening it is not
		{'b', 8, 0, "rw", false},    // nor for writing
		{'b', 1, 3, "r", false},     // the numbers of null, but a block device
		{'c', 1, 1, "r", false},     // /dev/mem
		{'c', 10, 229, "rw", false}, // /dev/fuse, as docker
		{'c', 1, 11, "w", false},    // /dev/kmsg
		{'c', 137, 3, "r", false},   // next to the pts major
	}
	for _, tt := range tests {
		got := runDeviceProgram(t, DefaultDevices, tt.typ, tt.major, tt.minor, tt.access)
		if got != tt.want {
			t.Errorf("default rules, %c %d:%d %s: allowed = %v, want %v", tt.typ, tt.major, tt.minor, tt.access, got, tt.want)
		}
	}
}

func TestDeviceProgramRules(t *testing.T) {
	readOnlyNull := []DeviceRule{{Type: 'c', Major: 1, Minor: 3, Access: "r"}}
	all := []DeviceRule{{Type: 'a', Major: AnyDevice, Minor: AnyDevice, Access: "rwm"}}
	tests := []struct {
		rules        []DeviceRule
		typ          byte
		major, minor uint32
		access       string
		want         bool
	}{
		{nil, 'c', 1, 3, "r", false},
		{readOnlyNull, 'c', 1, 3, "r", true},
		{readOnlyNull, 'c', 1, 3, "rw", false},
		{readOnlyNull, 'c', 1, 3, "m", false},
		{all, 'b', 259, 1, "rwm", true},
		{all, 'c', 4095, 1048575, "w", true},
	}
	for _, tt := range tests {
		got := runDeviceProgram(t, tt.rules, tt.typ, tt.major, tt.minor, tt.access)
		if got != tt.want {
			t.Errorf("rules %v, %c %d:%d %s: allowed = %v, want %v", tt.rules, tt.typ, tt.major, tt.minor, tt.access, got, tt.want)
		}
	}
}

// Every rule is a separate block: a program for many rules stays well inside the verifier's
// limits and the jumps of one rule land on the next.
func TestDeviceProgramManyRules(t *testing.T) {
	var rules []DeviceRule
	for i := range 200 {
		rules = append(rules, DeviceRule{Type: 'c', Major: 10, Minor: int64(i), Access: "rw"})
	}
	for _, minor := range []uint32{0, 99, 199} {
		if !runDeviceProgram(t, rules, 'c', 10, minor, "rw") {
			t.Errorf("c 10:%d rw denied, want allowed by its rule", minor)
		}
	}
	if runDeviceProgram(t, rules, 'c', 10, 200, "r") {
		t.Error("c 10:200 r allowed, want denied: no rule names it")
	}
}

func TestParseDeviceRule(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want DeviceRule
		ok   bool
	}{
		{"c 42:* rmw", DeviceRule{Type: 'c', Major: 42, Minor: AnyDevice, Access: "rmw"}, true},
		{"b 8:0 r", DeviceRule{Type: 'b', Major: 8, Minor: 0, Access: "r"}, true},
		{"a *:* m", DeviceRule{Type: 'a', Major: AnyDevice, Minor: AnyDevice, Access: "m"}, true},
		{"c 42:* rwx", DeviceRule{}, false},
		{"c 42:* rr", DeviceRule{}, false},
		{"c 42:* ", DeviceRule{}, false},
		{"c 42:*", DeviceRule{}, false},
		{"x 1:3 r", DeviceRule{}, false},
		{"cc 1:3 r", DeviceRule{}, false},
		{"c  1:3 r", DeviceRule{}, false},
		{" c 1:3 r", DeviceRule{}, false},
		{"c 1:3 r ", DeviceRule{}, false},
		{"c 1 r", DeviceRule{}, false},
		{"c 1:-3 r", DeviceRule{}, false},
		{"c +1:3 r", DeviceRule{}, false},
		{"c 0x1:3 r", DeviceRule{}, false},
		{"c 1:3:4 r", DeviceRule{}, false},
		{"c 99999999999:3 r", DeviceRule{}, false},
		{"c 1:3 rwmr", DeviceRule{}, false},
		{"c\t1:3 r", DeviceRule{}, false},
		{"", DeviceRule{}, false},
	} {
		got, err := ParseDeviceRule(tt.in)
		if tt.ok && (err != nil || got != tt.want) || !tt.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseDeviceRule(%q) = %+v, %v, want %+v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			if b, _ := got.MarshalText(); string(b) != tt.in {
				t.Errorf("ParseDeviceRule(%q).MarshalText() = %q", tt.in, b)
			}
		}
	}
}

// TestUserDeviceRules: the user's rules come after the defaults, and the program allows what
// they allow and nothing more: read but not write of c 10:237 given "r", any minor of a
// major given with *, and still refuses a disk.
func TestUserDeviceRules(t *testing.T) {
	r := Resources{Devices: []DeviceRule{{Type: 'c', Major: 10, Minor: 237, Access: "r"}, {Type: 'c', Major: 42, Minor: AnyDevice, Access: "rw"}}}
	rules := r.deviceRules()
	if len(rules) != len(DefaultDevices)+2 || rules[len(rules)-1] != r.Devices[1] {
		t.Fatalf("deviceRules() = %v", rules)
	}
	for _, tt := range []struct {
		typ          byte
		major, minor uint32
		access       string
		want         bool
	}{
		{'c', 10, 237, "r", true},
		{'c', 10, 237, "w", false},
		{'c', 10, 229, "r", false},
		{'c', 42, 7, "rw", true},
		{'c', 42, 7, "m", true}, // mknod: the default c *:* m
		{'b', 42, 7, "r", false},
		{'b', 8, 0, "r", false},
		{'c', 1, 3, "rw", true},
	} {
		if got := runDeviceProgram(t, rules, tt.typ, tt.major, tt.minor, tt.access); got != tt.want {
			t.Errorf("%c %d:%d %s = %v, want %v", tt.typ, tt.major, tt.minor, tt.access, got, tt.want)
		}
	}
	if (Resources{AllDevices: true, Devices: r.Devices}).deviceRules() != nil {
		t.Error("AllDevices with user rules confines the container")
	}
	if !r.Equal(Resources{Devices: slices.Clone(r.Devices)}) || r.Equal(Resources{}) || r.Equal(Resources{Devices: r.Devices[:1]}) {
		t.Error("Equal does not compare the device rules")
	}
	bad := Resources{Devices: []DeviceRule{{Type: 'q', Major: 1, Minor: 1, Access: "r"}}}
	if err := bad.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Validate(%v) = %v, want ErrInvalid", bad.Devices, err)
	}
}
