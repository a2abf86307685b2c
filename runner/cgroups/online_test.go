package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCpusOnline: a cpuset naming a CPU the host lacks is refused in docker's words
// before anything is made; one within the online CPUs, or a host whose list is unreadable,
// passes (the cgroup's check at start still holds).
func TestCheckCpusOnline(t *testing.T) {
	online := filepath.Join(t.TempDir(), "online")
	if err := os.WriteFile(online, []byte("0-1,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cpus, want string
	}{
		{"0", ""},
		{"0-1,4", ""},
		{"1,1", ""},
		{"2", `invalid cpuset cpus value "2": requested CPUs are not available (available: 0-1,4)`},
		{"0-8191", `invalid cpuset cpus value "0-8191": requested CPUs are not available (available: 0-1,4)`},
		{"3-1", `invalid cpuset cpus value "3-1"`},
	} {
		err := checkCpusOnline(tt.cpus, online)
		if got := errString(err); got != tt.want {
			t.Errorf("checkCpusOnline(%q) = %q, want %q", tt.cpus, got, tt.want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("checkCpusOnline(%q) = %v, want ErrInvalid", tt.cpus, err)
		}
	}
	if err := checkCpusOnline("7", filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Errorf("checkCpusOnline with no online list = %v, want nil", err)
	}
	// This host's own list takes its first CPU.
	if b, err := os.ReadFile(onlineCPUsFile); err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "-")
		first, _, _ = strings.Cut(first, ",")
		if err := CheckCpusOnline(first); err != nil {
			t.Errorf("CheckCpusOnline(%q) = %v, want nil", first, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
