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

// TestStopDuringStart: a stop that comes while another strata starts the container (a start
// holds the container's lock until its state says running) waits for that start and stops
// what it started, as docker's stop, serialized after the start, does. It found the
// container not running yet, did nothing, exited 0, and the container came up a moment later
// and ran on (half the time with `start c & stop c`). The start is held here at its lock, by
// the test, for as long as it takes to see what the stop does meanwhile.
func TestStopDuringStart(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	for i := range 3 {
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
		time.Sleep(300 * time.Millisecond) // the start waits at the lock
		stop := exec.Command(strataBin, "--root", root, "stop", "-t", "1", "sds")
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
		select {
		case err := <-stopDone:
			if err != nil {
				t.Errorf("round %d: stop: %v", i, err)
			}
		case <-time.After(15 * time.Second):
			stop.Process.Kill()
			<-stopDone
			t.Fatalf("round %d: stop still running 15 s after the start went on", i)
		}
		if took < 350*time.Millisecond {
			t.Errorf("round %d: stop returned after %v, while the start was still under way", i, took)
		}
		if out := strata(t, root, "inspect", "-f", "{{.State.Status}}", "sds").Stdout; out != "exited\n" {
			t.Errorf("round %d: after a stop that came during the start, the container is %q, want exited", i, strings.TrimSpace(out))
		}
		mustStrata(t, root, "rm", "-f", "sds")
	}
}
