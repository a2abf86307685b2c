package runner

import (
	"fmt"
	"strings"
	"testing"
)

// TestRunInitOOMKilled: an init the OOM killer ends while it sets the container up (a few MB
// of --memory, an image's environment of megabytes, which it decodes and holds) is said to
// be, in one line, as runc says it, not "exited while setting up".
func TestRunInitOOMKilled(t *testing.T) {
	spec := testSpec(t, "true")
	spec.Resources.Memory = 6 << 20
	spec.Resources.MemorySwap = 6 << 20
	for i := range 80 {
		spec.Env = append(spec.Env, "V"+strings.Repeat("x", i%10)+string(rune('a'+i%26))+strings.Repeat("y", i/26)+"="+strings.Repeat("v", 64<<10))
	}
	code, _, stderr, err := runOut(t, spec)
	want := "init: killed by the OOM killer while setting up the container: the memory limit is too low"
	if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), want) || stderr != "" {
		t.Errorf("Run(--memory 6m, 5 MB of environment) = %d, %v, stderr %q; want %d and %q", code, err, stderr, ExitOwnError, want)
	}
}

// TestExecHelperOOMKilled: exec's helper, which runs in the container's cgroup, ended by the
// OOM killer before it answered (a container at its few MB of --memory, an -e of megabytes
// the helper decodes) is said to be, in one line, not "helper exited without an answer";
// the container runs on, and a small exec still runs.
func TestExecHelperOOMKilled(t *testing.T) {
	c := startedContainer(t, func(s *Spec) {
		s.Resources.Memory = 6 << 20
		s.Resources.MemorySwap = 6 << 20
	}, "sleep", "1000")
	var env []string
	for i := range 80 {
		env = append(env, fmt.Sprintf("V%d=%s", i, strings.Repeat("v", 64<<10)))
	}
	code, _, _, err := execOut(t, c, ExecOptions{Args: []string{"true"}, Env: env})
	want := "helper killed by the OOM killer before the command started"
	if code != ExitOwnError || err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Exec(5 MB of -e) in a container of 6 MB = %d, %v; want %d and %q", code, err, ExitOwnError, want)
	}
	if code, out, _, err := execOut(t, c, ExecOptions{Args: []string{"echo", "ok"}}); code != 0 || err != nil || out != "ok" {
		t.Errorf("Exec(echo ok) after = %d, %q, %v; want ok", code, out, err)
	}
}
