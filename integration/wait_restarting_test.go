package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestWaitRestarting: `wait` on a container in its restart policy's backoff waits for its
// next exit, as docker's does (docker counts a restarting container as running), and
// returns once a stop cancels the restart. It printed the last exit code at once.
func TestWaitRestarting(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	// Each run exits with 10 and its number: a wait that prints the last code is told apart.
	script := `n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n >/n; exit $((10+n))`
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "always", img, "sh", "-c", script).Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	// Backoffs of 0.1, 0.2, 0.4, 0.8, 1.6 s: by the 5th restart it waits long enough.
	n := waitRestarted(t, root, id, 4, "restarting")
	last := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", id).Stdout)
	began := time.Now()
	r := mustStrata(t, root, "wait", id)
	if got := strings.TrimSpace(r.Stdout); got == last {
		t.Errorf("wait on a restarting container printed its last exit %s at once (after %v); want its next", got, time.Since(began))
	}
	// Its backoff (100 ms doubled for each restart but the first), the next run, and what
	// strata costs.
	if d := time.Since(began); d > 100*time.Millisecond<<(n-1)+5*time.Second {
		t.Errorf("wait took %v, after %d restarts", d, n)
	}

	// A stop in the backoff ends the wait with the last exit code.
	waitRestarted(t, root, id, 6, "restarting")
	last = strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", id).Stdout)
	w := exec.Command(strataBin, "--root", root, "wait", id)
	var out strings.Builder
	w.Stdout = &out
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("wait returned in the backoff: %v, %q", err, out.String())
	default:
	}
	mustStrata(t, root, "stop", id)
	select {
	case err := <-done:
		if err != nil || strings.TrimSpace(out.String()) != last {
			t.Errorf("wait after stop: %v, %q; want %s", err, out.String(), last)
		}
	case <-time.After(30 * time.Second):
		_ = w.Process.Kill()
		<-done
		t.Fatal("wait still waits 30 s after the stop")
	}
}

// TestKillCrashLooping: kill of a container that its restart policy restarts at once, again
// and again, succeeds whenever it comes, as docker's does, and the container stays down. A
// kill that came as the backoff ended failed "container is not running" one time in five:
// the restart under way ran its PID 1, which exited before the signal.
func TestKillCrashLooping(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	for i := 0; i < 12; i++ {
		id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "always", img, "sh", "-c", "exit 3").Stdout)
		// Its third backoff is 0.4 s: kill near its end, as a restart begins.
		waitRestarted(t, root, id, 3, "")
		time.Sleep(time.Duration(300+10*i) * time.Millisecond)
		if r := strata(t, root, "kill", id); r.Code != 0 {
			t.Errorf("kill %d: exit %d, %q", i, r.Code, r.Stderr)
		}
		// No restart comes once its monitors are gone (only a monitor restarts it).
		waitNoMonitor(t, id)
		if st := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", id).Stdout); st != "exited" {
			t.Errorf("kill %d: the container is %s after it", i, st)
		}
		mustStrata(t, root, "rm", "-f", id)
	}
}

// TestRestartingRefusals: pause, exec and top of a container in its restart backoff are
// refused in docker's words ("is restarting, wait until the container is running"), and
// unpause as not paused (docker counts it running), where strata said "not running".
func TestRestartingRefusals(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--restart", "always", img, "sh", "-c", "exit 3").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", id) })
	// Its 7th backoff is 6.4 s, long enough for the four commands on a busy machine (the 5th's
	// 1.6 s might not be).
	waitRestarted(t, root, id, 7, "restarting")
	for _, args := range [][]string{{"pause", id}, {"exec", id, "true"}, {"top", id}, {"unpause", id}} {
		want := "is restarting, wait until the container is running"
		if args[0] == "unpause" {
			want = "is not paused"
		}
		if r := strata(t, root, args...); r.Code == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("%s of a restarting container: exit %d, %q; want refused %q", args[0], r.Code, r.Stderr, want)
		}
	}
}
