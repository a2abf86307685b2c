package integration

import (
	"strings"
	"testing"
)

// TestFailedStartShowsCreated: a container whose start failed and that never ran shows as
// docker shows it, created (docker's StateString: not running, never started): ps "Created",
// status=created, not exited=127, inspect Status created with the exit code and error kept and
// no finish time; wait returns the code at once. A container that ran once and whose later
// start failed has a start time, and shows exited.
func TestFailedStartShowsCreated(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	if r := strata(t, root, "run", "--name", "fs", img, "nosuchcmd"); r.Code != 127 {
		t.Fatalf("run nosuchcmd: exit %d, want 127", r.Code)
	}
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fs", "ran") })
	if line := strings.TrimSpace(mustStrata(t, root, "ps", "-a", "--format", "{{.State}}|{{.Status}}").Stdout); line != "created|Created" {
		t.Errorf("ps -a of a container whose start failed = %q, want created|Created", line)
	}
	if out := mustStrata(t, root, "ps", "-aq", "--filter", "status=created").Stdout; out == "" {
		t.Errorf("ps --filter status=created lists nothing, want the failed one")
	}
	if out := mustStrata(t, root, "ps", "-aq", "--filter", "exited=127").Stdout; out != "" {
		t.Errorf("ps --filter exited=127 = %q, want nothing: it never ran, as docker's filter says", out)
	}
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}|{{.State.ExitCode}}|{{.State.FinishedAt}}|{{.State.Error}}", "fs").Stdout; !strings.HasPrefix(out, "created|127|0001-01-01T00:00:00Z|") || !strings.Contains(out, "nosuchcmd") {
		t.Errorf("inspect of the failed one = %q, want created, 127, no finish time and the error", out)
	}
	if out := mustStrata(t, root, "wait", "fs").Stdout; out != "127\n" {
		t.Errorf("wait = %q, want 127", out)
	}

	// Ran once, then a start failed (its command made unrunnable meanwhile): exited.
	mustStrata(t, root, "run", "--name", "ran", img, "sh", "-c", "rm /bin/sh")
	if r := strata(t, root, "start", "ran"); r.Code == 0 {
		t.Fatalf("start of a container whose command is gone succeeded")
	}
	if st := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", "ran").Stdout); st != "exited" {
		t.Errorf("inspect of a container that ran once and failed to start again = %q, want exited", st)
	}
}
