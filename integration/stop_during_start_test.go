package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopDuringStart: a stop or a kill that comes while another strata starts the container
// (a start holds the container's lock until its state says running) waits for that start and
// stops what it started, as docker's, serialized after the start, do. The stop found the
// container not running yet, did nothing, exited 0, and the container came up a moment later
// and ran on (half the time with `start c & stop c`); the kill failed, "container is not
// running", and the container ran on too. The start is held here at its lock, by
// the test, for as long as it takes to see what the stop does meanwhile.
func TestStopDuringStart(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	for i, how := range []string{"stop", "stop", "kill", "kill"} {
		id := strings.TrimSpace(mustStrata(t, root, "create", "--name", "sds", img, "sleep", "600").Stdout)
		lock, err := os.OpenFile(filepath.Join(root, "containers", id, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		start := exec.Command(strataBin, "--root", root, "start", "sds")
		if err := start.Start(); err != nil {
			t.Fatal(err)
		}
		// The start waits at the lock: a sleep of 300 ms was too short on a busy machine, and
		// a stop before the start found the container not started and returned at once.
		waitFlockBlocked(t, start.Process.Pid, filepath.Join(root, "containers", id, "lock"))
		args := []string{"--root", root, "stop", "-t", "1", "sds"}
		if how == "kill" {
			args = []string{"--root", root, "kill", "sds"}
		}
		stop := exec.Command(strataBin, args...)
		var stopErr strings.Builder
		stop.Stderr = &stopErr
		stopDone := make(chan error, 1)
		var took time.Duration
		began := time.Now()
		if err := stop.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { err := stop.Wait(); took = time.Since(began); stopDone <- err }()
		time.Sleep(400 * time.Millisecond)
		lock.Close() // the start goes on
		if err := start.Wait(); err != nil {
			t.Errorf("round %d: start: %v", i, err)
		}
		var cmdErr error
		select {
		case cmdErr = <-stopDone:
		case <-time.After(15 * time.Second):
			stop.Process.Kill()
			<-stopDone
			t.Fatalf("round %d: %s still running 15 s after the start went on", i, how)
		}
		if took < 350*time.Millisecond {
			t.Errorf("round %d: %s returned after %v, while the start was still under way (%v: %s)", i, how, took, cmdErr, stopErr.String())
		}
		// The test's lock, released, goes to the start's flock, or now and then to the
		// stop's poll first, which then finds the container not started yet, as a stop
		// before a start does: what the stop did is judged by the state only when it found
		// the container started.
		out := strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Status}}", "sds").Stdout)
		switch {
		case cmdErr == nil && out == "exited":
		case out == "running" && (cmdErr == nil || strings.Contains(stopErr.String(), "is not running")):
			t.Logf("round %d: %s took the lock before the start did", i, how)
		default:
			t.Errorf("round %d: %s during the start: %v %s, then the container is %q; want it stopped", i, how, cmdErr, stopErr.String(), out)
		}
		mustStrata(t, root, "rm", "-f", "sds")
	}
}
