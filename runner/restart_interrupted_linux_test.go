package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// interruptRestart starts c (a container that traps SIGTERM and says "term"), restarts it
// with a timeout of restartGrace and interrupts that restart (Ctrl-C: its ctx ends) once the
// container has had its SIGTERM. It returns a pidfd of the killer the restart left, which
// the restart mark names, and waits for that killer's end when the test ends, before the
// container's removal.
func interruptRestart(t *testing.T, c *Container) int {
	t.Helper()
	if err := Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	logHolds(t, c, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	restarted := make(chan error, 1)
	go func() { restarted <- Restart(ctx, c, restartGrace) }()
	logHolds(t, c, "term")
	cancel()
	if err := <-restarted; err == nil {
		t.Fatal("the interrupted restart succeeded")
	}
	b, err := os.ReadFile(filepath.Join(c.Dir, restartingFile))
	if err != nil {
		t.Fatalf("no restart mark after the interrupted restart: %v", err)
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || pid == os.Getpid() {
		t.Fatalf("restart mark %q after the interrupted restart, want the killer's pid", b)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("the killer (pid %d): %v", pid, err)
	}
	t.Cleanup(func() {
		_ = unix.PidfdSendSignal(fd, unix.SIGCONT, nil, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := waitPidfd(ctx, fd); err != nil {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			t.Errorf("the killer still runs: %v", err)
		}
		unix.Close(fd)
	})
	return fd
}

// restartGrace is interruptRestart's stop timeout: long enough that the killer has not
// started the container again (which removes the mark) before the test reads the mark, on
// a busy machine too.
const restartGrace = 3 * time.Second

// waitKiller waits for the end of the killer of pidfd fd.
func waitKiller(t *testing.T, fd int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitPidfd(ctx, fd); err != nil {
		t.Fatalf("the killer the interrupted restart left: %v", err)
	}
}

// TestRestartInterruptedStarts: a restart interrupted (Ctrl-C, SIGTERM to the CLI) while it
// waits for the container to end on its stop signal still starts the container again after
// the SIGKILL at its timeout, as docker's daemon finishes a restart whose client went away.
// Before, the process the restart left killed the container and nobody started it: it stayed
// exited (137), and a --rm one was removed. The --rm container is kept through that exit (the
// restart mark names the killer) and runs again; the mark is gone once it does.
func TestRestartInterruptedStarts(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, rm := range []bool{false, true} {
		t.Run(fmt.Sprintf("rm=%v", rm), func(t *testing.T) {
			root := t.TempDir()
			s, err := OpenStore(filepath.Join(root, "containers"))
			if err != nil {
				t.Fatal(err)
			}
			c := testContainer(t, s, "restartint", "sh", "-c", "trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done")
			if rm {
				c.Config.AutoRemove = true
				if err := c.SaveConfig(); err != nil {
					t.Fatal(err)
				}
			}
			fd := interruptRestart(t, c)
			first := c.State.StartedAt
			waitKiller(t, fd)
			c, err = s.Get(c.ID)
			if err != nil {
				t.Fatalf("after the interrupted restart: %v", err)
			}
			if !c.State.Running() || !c.State.StartedAt.After(first) {
				t.Fatalf("after the interrupted restart: %s (started %v, first run %v), want running again", c.State.Status, c.State.StartedAt, first)
			}
			if _, err := os.Lstat(filepath.Join(c.Dir, restartingFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("restart mark after the restart ended: %v, want none", err)
			}
			f, err := os.Open(filepath.Join(root, events.File))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var actions []string
			_ = events.NewTail(f).Poll(func(m events.Message) bool {
				if m.Actor.ID == c.ID {
					actions = append(actions, m.Action)
				}
				return true
			})
			if n := len(actions); n == 0 || actions[n-1] != "restart" {
				t.Errorf("events %v, want the restart's last", actions)
			}
		})
	}
}

// TestRestartInterruptedStartedMeanwhile: the killer of an interrupted restart starts the
// container again only after the run it stopped: one started by hand since (and stopped
// again) is left as it is, not started a second time.
func TestRestartInterruptedStartedMeanwhile(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	t.Setenv(TestStopEnv, stopKillerExited)
	root := t.TempDir()
	s, err := OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "restartmeanwhile", "sh", "-c", "trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done")
	fd := interruptRestart(t, c)
	if err := Kill(c, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The killer stops itself once it has seen the exit (stopKillerExited).
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WSTOPPED|unix.WNOWAIT, nil); err != nil {
		t.Fatalf("waiting for the killer to stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := Wait(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := Stop(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	stopped := c.State.StartedAt
	if err := unix.PidfdSendSignal(fd, unix.SIGCONT, nil, 0); err != nil {
		t.Fatal(err)
	}
	waitKiller(t, fd)
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.State.Running() || !c.State.StartedAt.Equal(stopped) {
		t.Errorf("the container started by hand and stopped: %s, started %v (the stopped run's %v), want exited, not started again", c.State.Status, c.State.StartedAt, stopped)
	}
}
