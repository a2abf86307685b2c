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
	waitInspect(t, root, id, "{{.State.Status}} {{.RestartCount}}", "restarting 4", 10*time.Second)
	last := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.ExitCode}}", id).Stdout)
	began := time.Now()
	r := mustStrata(t, root, "wait", id)
	if got := strings.TrimSpace(r.Stdout); got == last {
		t.Errorf("wait on a restarting container printed its last exit %s at once (after %v); want its next", got, time.Since(began))
	}
	if d := time.Since(began); d > 6*time.Second {
		t.Errorf("wait took %v", d)
	}

	// A stop in the backoff ends the wait with the last exit code.
	waitInspect(t, root, id, "{{.State.Status}} {{.RestartCount}}", "restarting 6", 15*time.Second)
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
	case <-time.After(5 * time.Second):
		_ = w.Process.Kill()
		<-done
		t.Fatal("wait still waits 5 s after the stop")
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
		waitInspect(t, root, id, "{{.RestartCount}}", "3", 10*time.Second)
		time.Sleep(time.Duration(300+10*i) * time.Millisecond)
		if r := strata(t, root, "kill", id); r.Code != 0 {
			t.Errorf("kill %d: exit %d, %q", i, r.Code, r.Stderr)
		}
		time.Sleep(300 * time.Millisecond)
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
	// Its 5th backoff is 1.6 s, long enough for the four commands.
	waitInspect(t, root, id, "{{.State.Status}} {{.RestartCount}}", "restarting 5", 10*time.Second)
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
