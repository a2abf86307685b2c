package integration

import (
	"strings"
	"testing"
	"time"
)

// TestStopNegativeTimeout: stop -t and restart -t below -1, and a --stop-timeout below -1,
// wait for the container without a SIGKILL, as docker's daemon does for any negative
// timeout; strata refused them ("invalid --time -2"), and run --stop-timeout -2 too. Each
// container traps SIGTERM, takes a second, writes /bye and exits 3: a SIGKILL would leave
// no /bye and exit 137.
func TestStopNegativeTimeout(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	const script = "trap 'sleep 1; echo bye > /bye; exit 3' TERM; echo trapped; while :; do sleep 0.1; done"
	trapped := func(name string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(mustStrata(t, root, "logs", name).Stdout, "trapped"); {
			if time.Now().After(deadline) {
				t.Fatalf("%s never set its trap", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	exited := func(name, what string) {
		t.Helper()
		if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).Stdout; out != "exited 3\n" {
			t.Errorf("%s after %s: %q, want exited 3 (its trap's, not a SIGKILL's 137)", name, what, out)
		}
	}

	detached(t, root, "--name", "neg-stop", "alpine", "sh", "-c", script)
	trapped("neg-stop")
	if r := strata(t, root, "stop", "-t", "-2", "neg-stop"); r.Code != 0 {
		t.Fatalf("stop -t -2 = exit %d, stderr %q; want 0 (waits forever, as -1)", r.Code, r.Stderr)
	}
	exited("neg-stop", "stop -t -2")

	detached(t, root, "--name", "neg-flag", "--stop-timeout", "-5", "alpine", "sh", "-c", script)
	if out := mustStrata(t, root, "inspect", "-f", "{{.Config.StopTimeout}}", "neg-flag").Stdout; out != "-5\n" {
		t.Errorf("inspect Config.StopTimeout of run --stop-timeout -5 = %q, want -5", out)
	}
	trapped("neg-flag")
	mustStrata(t, root, "stop", "neg-flag")
	exited("neg-flag", "stop with its --stop-timeout -5")

	detached(t, root, "--name", "neg-restart", "alpine", "sh", "-c", script)
	trapped("neg-restart")
	if r := strata(t, root, "restart", "-t", "-100", "neg-restart"); r.Code != 0 {
		t.Fatalf("restart -t -100 = exit %d, stderr %q; want 0", r.Code, r.Stderr)
	}
	running(t, root, "neg-restart")
	if out := mustStrata(t, root, "exec", "neg-restart", "cat", "/bye").Stdout; out != "bye\n" {
		t.Errorf("/bye after restart -t -100: %q, want bye (the trap ran to its end: no SIGKILL)", out)
	}
}
