package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestStopInterruptedKills: a stop interrupted (Ctrl-C: its ctx ends) after it sent the stop
// signal to a container that ignores it still ends the container with SIGKILL at its timeout,
// as docker's daemon finishes a stop whose client went away: a process the stop leaves kills
// it (spawnStopKiller). Before, the container ran on for ever. Its kill logs docker's kill
// event (signal 9), as the stop's own SIGKILL does; before, the log had only the SIGTERM's.
func TestStopInterruptedKills(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	root := t.TempDir()
	s, err := OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "stopint", "sh", "-c", "trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done")
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	logHolds(t, c, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- Stop(ctx, c, time.Second) }()
	logHolds(t, c, "term")
	cancel() // Ctrl-C of the stop, once the container has had its SIGTERM
	if err := <-stopped; err == nil {
		t.Fatal("the interrupted stop succeeded")
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	code, err := Wait(wctx, c)
	if err != nil {
		t.Fatalf("the container was not killed after the interrupted stop's timeout: %v", err)
	}
	if code != 137 {
		t.Errorf("exit code %d, want 137 (SIGKILL)", code)
	}
	killed := func() bool {
		f, err := os.Open(filepath.Join(root, events.File))
		if err != nil {
			return false
		}
		defer f.Close()
		found := false
		_ = events.NewTail(f).Poll(func(m events.Message) bool {
			found = m.Action == "kill" && m.Actor.ID == c.ID && m.Actor.Attributes["signal"] == "9" && m.Actor.Attributes["name"] == "stopint"
			return !found
		})
		return found
	}
	waitFor(t, killed, "the stop killer's kill event (signal 9)")
}

// TestKillAtDeadline: the killer a stop leaves SIGKILLs the process of its pidfd at the
// deadline, and returns without a signal once that process has exited: a process with the
// pid since (the container started again) is another, which it cannot signal. While the
// stop's control pipe is open it kills only stopKillerLag later (the stop kills itself at the
// deadline), and at once once the pipe has ended (the stop is gone) and the deadline is past.
func TestKillAtDeadline(t *testing.T) {
	spawn := func() (*exec.Cmd, int) {
		child := exec.Command("sleep", "1000")
		if err := child.Start(); err != nil {
			t.Skipf("no sleep to run: %v", err)
		}
		t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
		fd, err := unix.PidfdOpen(child.Process.Pid, 0)
		if err != nil {
			t.Skipf("no pidfd: %v", err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return child, fd
	}
	child, fd := spawn()
	killAtDeadline(fd, -1, time.Now().Add(50*time.Millisecond))
	if err := child.Wait(); err == nil || child.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the process after its deadline: %v, want killed by SIGKILL", err)
	}
	// Ended before the deadline: killAtDeadline returns at its end, not at the deadline.
	child, fd = spawn()
	done := make(chan struct{})
	go func() { killAtDeadline(fd, -1, time.Now().Add(time.Hour)); close(done) }()
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("killAtDeadline still waits after its process ended")
	}
	// The stop gone (its end of the pipe closed) at the deadline: killed then, not
	// stopKillerLag later.
	ctl := func() (r, w *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w
	}
	child, fd = spawn()
	r, w := ctl()
	w.Close()
	if killed, gone := killAtDeadline(fd, int(r.Fd()), time.Now()); !killed || !gone {
		t.Errorf("killAtDeadline with the stop gone = %v, %v; want killed, gone", killed, gone)
	}
	if err := child.Wait(); err == nil || child.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the process after its deadline, the stop gone: %v, want killed by SIGKILL", err)
	}
	// The stop alive but not killing (stopped, Ctrl-Z): killed stopKillerLag late.
	child, fd = spawn()
	r, _ = ctl()
	if killed, gone := killAtDeadline(fd, int(r.Fd()), time.Now()); !killed || gone {
		t.Errorf("killAtDeadline with the stop alive = %v, %v; want killed, not gone", killed, gone)
	}
	if err := child.Wait(); err == nil || child.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the process after its deadline, the stop alive: %v, want killed by SIGKILL", err)
	}
}

// TestStopsSettled: StopsSettled is open while a stop waits for its container (strata's root
// then holds a second SIGINT or SIGTERM) and closed once the interrupted stop has returned,
// its killer left; with no stop under way it is closed. A stop whose context ended before it
// began has nothing to leave, and returns the context's error.
func TestStopsSettled(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	settled := func() bool {
		select {
		case <-StopsSettled():
			return true
		default:
			return false
		}
	}
	if !settled() {
		t.Fatal("StopsSettled is open with no stop under way")
	}
	s, err := OpenStore(filepath.Join(t.TempDir(), "containers"))
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "settled", "sh", "-c", "trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done")
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	logHolds(t, c, "ready")
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if err := Stop(done, c, time.Second); !errors.Is(err, context.Canceled) || !settled() {
		t.Fatalf("Stop with its context ended = %v (settled %v), want %v and settled", err, settled(), context.Canceled)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- Stop(ctx, c, time.Second) }()
	logHolds(t, c, "term")
	if settled() {
		t.Error("StopsSettled is closed while a stop waits for its container")
	}
	waiting := StopsSettled()
	cancel()
	if err := <-stopped; err == nil {
		t.Fatal("the interrupted stop succeeded")
	}
	select {
	case <-waiting:
	default:
		t.Error("StopsSettled's channel is open after the interrupted stop returned")
	}
	// The killer it left ends the container at the timeout.
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if code, err := Wait(wctx, c); err != nil || code != 137 {
		t.Errorf("after the interrupted stop: exit %d, %v; want 137 (the killer's SIGKILL)", code, err)
	}
}
