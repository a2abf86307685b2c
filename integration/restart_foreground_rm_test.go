package integration

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestRestartForegroundRm restarts a --rm container that a foreground `run --rm` runs: as for
// a detached one (and docker's), the restart succeeds and the container runs again, kept
// until it next stops, when it is removed. The foreground run (its monitor) removed it at the
// restart's stop regardless, and the restart failed with "no such container (removed)".
func TestRestartForegroundRm(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fgrm") })
	cmd := exec.Command(strataBin, "--root", root, "run", "--rm", "--name", "fgrm", img, "sh", "-c", `trap "exit 9" TERM; while :; do sleep 0.1; done`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Restarted once its trap is set: the shell, PID 1, drops a SIGTERM it has no handler
	// for, and the stop then waited out its 5 s for a SIGKILL (exit 137, not 9).
	waitCaught(t, root, "fgrm", syscall.SIGTERM)
	if r := strata(t, root, "restart", "-t", "5", "fgrm"); r.Code != 0 || r.Stdout != "fgrm\n" {
		t.Errorf("restart of a foreground run --rm: exit %d, stdout %q, stderr %q; want exit 0 and its name", r.Code, r.Stdout, r.Stderr)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("the foreground run did not end at the restart's stop")
	}
	if code := cmd.ProcessState.ExitCode(); code != 9 {
		t.Errorf("foreground run exited %d at the restart, want the container's 9", code)
	}
	if out := strata(t, root, "ps", "--format", "{{.Names}} {{.State}}").Stdout; out != "fgrm running\n" {
		t.Fatalf("ps after the restart = %q, want fgrm running", out)
	}
	// Still --rm: removed when it next stops.
	mustStrata(t, root, "stop", "-t", "5", "fgrm")
	for deadline := time.Now().Add(30 * time.Second); strata(t, root, "ps", "-aq").Stdout != ""; {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted --rm container was not removed when it stopped: ps -a %q", strata(t, root, "ps", "-a").Stdout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
