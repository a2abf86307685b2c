package cgroups

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DeviceRule lets a container use a class of device nodes. It reads as one line of a v1
// devices.allow file ("c 1:3 rwm"); on v2 the same rules become a BPF program. A container's
// rules are an allowlist over "deny everything": a request is allowed when one rule covers its
// type, numbers and every access it asks for.
type DeviceRule struct {
	// Type is 'c' (character), 'b' (block) or 'a' (both).
	Type byte
	// Major and Minor are the device numbers; AnyDevice matches every number (the "*").
	Major, Minor int64
	// Access is a combination of 'r' (read), 'w' (write) and 'm' (mknod).
	Access string
}

// AnyDevice as a DeviceRule's Major or Minor matches every number.
const AnyDevice = -1

// DefaultDevices are what a container that is not --privileged may use, as in Docker (moby
// oci/defaults.go with runc's AllowedDevices): creating any node (so images that mknod at
// start-up still work), and opening only the harmless ones strata puts in /dev. A node the
// container makes for the host's disk can therefore be created but not opened.
var DefaultDevices = []DeviceRule{
	{Type: 'c', Major: AnyDevice, Minor: AnyDevice, Access: "m"},
	{Type: 'b', Major: AnyDevice, Minor: AnyDevice, Access: "m"},
	{Type: 'c', Major: 1, Minor: 3, Access: "rwm"},           // /dev/null
	{Type: 'c', Major: 1, Minor: 5, Access: "rwm"},           // /dev/zero
	{Type: 'c', Major: 1, Minor: 7, Access: "rwm"},           // /dev/full
	{Type: 'c', Major: 1, Minor: 8, Access: "rwm"},           // /dev/random
	{Type: 'c', Major: 1, Minor: 9, Access: "rwm"},           // /dev/urandom
	{Type: 'c', Major: 5, Minor: 0, Access: "rwm"},           // /dev/tty
	{Type: 'c', Major: 5, Minor: 1, Access: "rwm"},           // /dev/console
	{Type: 'c', Major: 5, Minor: 2, Access: "rwm"},           // /dev/ptmx
	{Type: 'c', Major: 136, Minor: AnyDevice, Access: "rwm"}, // /dev/pts/*
}

// String is the rule as devices.allow reads it: "c 136:* rwm".
func (r DeviceRule) String() string {
	num := func(n int64) string {
		if n == AnyDevice {
			return "*"
		}
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", r.Type, num(r.Major), num(r.Minor), r.Access)
}

// validate rejects a rule the kernel would misread: an unknown type or access letter, or a
// device number that is neither AnyDevice nor a 32-bit value.
func (r DeviceRule) validate() error {
	bad := func(reason string) error {
		return &ValueError{What: "device rule", Value: r.String(), Reason: reason}
	}
	if r.Type != 'a' && r.Type != 'b' && r.Type != 'c' {
		return bad("type must be a, b or c")
	}
	if r.Access == "" || strings.Trim(r.Access, "rwm") != "" {
		return bad("access must be a combination of r, w and m")
	}
	for _, n := range []int64{r.Major, r.Minor} {
		if n != AnyDevice && (n < 0 || n > 1<<31-1) {
			return bad("device number out of range")
		}
	}
	return nil
}

// deviceRules are the rules a container with limits r gets, nil meaning every device
// (--privileged): DefaultDevices, then the user's (--device, --device-cgroup-rule).
func (r Resources) deviceRules() []DeviceRule {
	if r.AllDevices {
		return nil
	}
	if len(r.Devices) == 0 {
		return DefaultDevices
	}
	return append(slices.Clone(DefaultDevices), r.Devices...)
}

// ParseDeviceRule parses a --device-cgroup-rule as docker's CLI reads it: "TYPE MAJOR:MINOR
// ACCESS", TYPE one of a, b or c, each number decimal or "*", ACCESS one to three of r, w and
// m, single spaces between (docker's regexp `^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`).
// Stricter than that regexp, a letter given twice and a number past 32 bits are refused: the
// kernel would misread them.
func ParseDeviceRule(s string) (DeviceRule, error) {
	bad := func(reason string) (DeviceRule, error) {
		return DeviceRule{}, &ValueError{What: "device cgroup rule", Value: s, Reason: reason}
	}
	parts := strings.Split(s, " ")
	if len(parts) != 3 || len(parts[0]) != 1 {
		return bad("want TYPE MAJOR:MINOR ACCESS, e.g. 'c 42:* rmw'")
	}
	r := DeviceRule{Type: parts[0][0], Access: parts[2]}
	if r.Type != 'a' && r.Type != 'b' && r.Type != 'c' {
		return bad("type must be a, b or c")
	}
	maj, min, ok := strings.Cut(parts[1], ":")
	if !ok {
		return bad("want MAJOR:MINOR, each a number or *")
	}
	for _, n := range []struct {
		s   string
		out *int64
	}{{maj, &r.Major}, {min, &r.Minor}} {
		if n.s == "*" {
			*n.out = AnyDevice
			continue
		}
		v, err := strconv.ParseUint(n.s, 10, 31)
		if err != nil || n.s[0] == '+' {
			return bad("device numbers must be decimal numbers or *")
		}
		*n.out = int64(v)
	}
	if len(r.Access) > 3 || r.Access == "" || strings.Trim(r.Access, "rwm") != "" ||
		strings.Count(r.Access, "r") > 1 || strings.Count(r.Access, "w") > 1 || strings.Count(r.Access, "m") > 1 {
		return bad("access must be one to three of r, w and m")
	}
	return r, r.validate()
}

// MarshalText writes r as devices.allow reads it, so a stored container's rules read "c 1:3 rwm".
func (r DeviceRule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a rule MarshalText wrote.
func (r *DeviceRule) UnmarshalText(b []byte) error {
	v, err := ParseDeviceRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
