package integration

import (
	"strings"
	"testing"
)

// TestCLIRedTeamRun runs, in real containers, what the CLI's red-team pass fixed: a working
// directory through ".." is cleaned as docker cleans it (the init failed to chdir through an
// /a nothing made), and --security-opt forms docker takes that ask for what strata does
// anyway run instead of being refused.
func TestCLIRedTeamRun(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-w", "/a/../..", "alpine", "pwd"}, "/"},
		{[]string{"-w", "/a/../b/./c/", "alpine", "pwd"}, "/b/c"},
		{[]string{"--read-only", "-w", "/x/../y", "alpine", "pwd"}, "/y"},
		{[]string{"--security-opt", "label=disable", "--security-opt", "apparmor=unconfined", "alpine", "echo", "ok"}, "ok"},
		{[]string{"--security-opt", "no-new-privileges:true", "alpine", "grep", "NoNewPrivs", "/proc/self/status"}, "NoNewPrivs:\t1"},
		{[]string{"--privileged", "--security-opt", "no-new-privileges=false", "alpine", "grep", "NoNewPrivs", "/proc/self/status"}, "NoNewPrivs:\t0"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := mustStrata(t, root, append([]string{"run", "--rm"}, tt.args...)...)
			if got := strings.TrimSpace(r.Stdout); got != tt.want {
				t.Errorf("stdout %q, want %q (stderr %q)", got, tt.want, r.Stderr)
			}
		})
	}
	for _, opt := range []string{"no-new-privileges=maybe", "no-new-privileges=false", "seccomp=", "label=type:x"} {
		r := strata(t, root, "run", "--rm", "--security-opt", opt, "alpine", "true")
		if r.Code != 125 {
			t.Errorf("run --security-opt %s: exit %d, want 125 (stderr %q)", opt, r.Code, r.Stderr)
		}
		assertOneLineError(t, r.Stderr, "--security-opt")
	}
}
