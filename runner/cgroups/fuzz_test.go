package cgroups

import (
	"errors"
	"strings"
	"testing"
)

// FuzzResourceValues feeds hostile --memory, --memory-swap, --cpus, --cpuset-cpus,
// --cpuset-mems and --device-cgroup-rule values to their parsers: a value, or an error that
// is ErrInvalid and one short line, never a panic; a CPU list that parses names no CPU past
// maxCPU.
func FuzzResourceValues(f *testing.F) {
	for _, s := range []string{"512m", "1g", "-1", "0.5", "1.5e3", "0-3,5", " 7 ", "0-4294967295", "c 42:* rmw", "b *:* m", "a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || len(msg) > 1024 {
				t.Errorf("%s(%.100q) error is not one short line: %.300q (%d bytes)", what, s, msg, len(msg))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s(%.100q) = %v, not ErrInvalid", what, s, err)
			}
		}
		_, err := ParseMemory(s)
		check("ParseMemory", err)
		_, err = ParseMemorySwap(s)
		check("ParseMemorySwap", err)
		_, err = ParseCPUs(s)
		check("ParseCPUs", err)
		set, err := parseCPUList(s)
		check("parseCPUList", err)
		if err == nil && set.count() > maxCPU+1 {
			t.Errorf("parseCPUList(%q) has %d CPUs", s, set.count())
		}
		_, err = parseMemList(s)
		check("parseMemList", err)
		_, err = ParseDeviceRule(s)
		check("ParseDeviceRule", err)
	})
}
