package cgroups

import (
	"fmt"
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
// (--privileged).
func (r Resources) deviceRules() []DeviceRule {
	if r.AllDevices {
		return nil
	}
	return DefaultDevices
}
