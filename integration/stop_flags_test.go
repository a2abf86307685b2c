package integration

import (
	"strings"
	"syscall"
	"testing"
)

// TestStopSignalAndTimeoutFlags: docker 25's stop and restart flags: -s/--signal sends that
// signal instead of the container's stop signal (then SIGKILL after the timeout, as ever),
// -t/--timeout names the timeout and --time stays its alias.
func TestStopSignalAndTimeoutFlags(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	t.Cleanup(func() { strata(t, root, "rm", "-f", "sig-usr1", "sig-alias") })
	// PID 1 leaves with 42 on SIGUSR1 and ignores SIGTERM, its stop signal.
	trap := `trap 'exit 42' USR1; trap '' TERM; while :; do sleep 0.05; done`
	mustStrata(t, root, "run", "-d", "--name", "sig-usr1", img, "sh", "-c", trap)
	// Stopped once its trap is set: PID 1 drops a signal it has no handler for, and the stop
	// then waited out its 20 s for a SIGKILL (exit 137).
	waitCaught(t, root, "sig-usr1", syscall.SIGUSR1)
	if r := mustStrata(t, root, "stop", "-s", "USR1", "--timeout", "20", "sig-usr1"); r.Stdout != "sig-usr1\n" {
		t.Errorf("stop -s USR1 printed %q, want the name", r.Stdout)
	}
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", "sig-usr1").Stdout); got != "42" {
		t.Errorf("exit code after stop -s USR1 = %s, want 42 (the trap's): the signal was not USR1", got)
	}
	// The signal was this stop's alone: the container's own stop signal is still SIGTERM.
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Config.StopSignal}}", "sig-usr1").Stdout); got != "" && got != "<no value>" {
		t.Errorf("stop -s changed the container's stop signal to %q", got)
	}
	mustStrata(t, root, "run", "-d", "--name", "sig-alias", img, "sh", "-c", trap)
	mustStrata(t, root, "restart", "--time", "0", "-s", "SIGUSR1", "sig-alias")
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Running}}", "sig-alias").Stdout); got != "true" {
		t.Errorf("after restart --time 0 -s SIGUSR1: running %s, want true", got)
	}
	mustStrata(t, root, "stop", "-t", "0", "sig-alias")
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", "sig-alias").Stdout); got != "137" {
		t.Errorf("exit code after stop -t 0 of a container ignoring SIGTERM = %s, want 137", got)
	}
	if r := strata(t, root, "stop", "-s", "NOPE", "sig-alias"); r.Code != 1 || !strings.Contains(r.Stderr, "invalid --signal") {
		t.Errorf("stop -s NOPE = %d %q, want 1 and invalid --signal", r.Code, r.Stderr)
	}
}
