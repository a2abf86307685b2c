package runner

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestStartInteractiveRestartFirstRun: StartInteractive (run -it, and a foreground run
// --restart) of a container with a restart policy returns its first run's output and exit
// status, however late its attach comes after the start: the monitor's end waits for the
// attach of the strata that started it. One that came after the first run had ended met a
// later run (the policy's first backoff is 100 ms): its output and status, or the fallback's
// Wait that waited for it.
func TestStartInteractiveRestartFirstRun(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Each run counts itself in the writable layer, which the restarts keep.
	c := testContainer(t, s, "", "sh", "-c", `n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; echo run$n; exit $((n+2))`)
	c.Config.RestartPolicy = RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: 2}
	if err := c.SaveConfig(); err != nil {
		t.Fatal(err)
	}
	attachStartedHook = func() { time.Sleep(400 * time.Millisecond) }
	t.Cleanup(func() { attachStartedHook = nil })
	var out, errOut bytes.Buffer
	code, err := StartInteractive(context.Background(), c, AttachOptions{Stdout: &out, Stderr: &errOut})
	if err != nil || code != 3 || out.String() != "run1\n" {
		t.Errorf("StartInteractive attached late = %d, %v, output %q (stderr %q); want the first run's: 3, run1", code, err, out.String(), errOut.String())
	}
	// Its monitor restarts it twice, as on-failure:2 says, and leaves it exited.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err := c.Reload(); err != nil {
			t.Fatal(err)
		}
		if c.State.Status == StatusExited && !c.State.Restarting && c.State.RestartCount == 2 {
			if c.State.ExitCode != 5 {
				t.Errorf("the last run's exit code = %d, want 5", c.State.ExitCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %+v, want exited after 2 restarts", c.State)
		}
	}
}
