package runner

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestWaitMonitorWakesOnEvents: waitMonitor sleeps while the monitor lives and nothing is
// renamed into the container dir, so a wait (and every attach, run -it's too) costs nothing
// while the container runs; it wakes at once when the monitor exits, when a state is
// written, when the dir goes, and when its ctx ends. It returned every 20 ms, and its caller
// reread state.json and /proc each time: 50 times a second.
func TestWaitMonitorWakesOnEvents(t *testing.T) {
	monitor := exec.Command("sleep", "60")
	if err := monitor.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = monitor.Process.Kill(); _ = monitor.Wait() })
	dir := t.TempDir()
	changes := watchState(dir)
	defer changes.close()
	if changes.fd < 0 {
		t.Skip("skipping: no inotify here")
	}

	// Quiet: no wake-up but the ctx's end.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	wakeups := 0
	for ctx.Err() == nil {
		_ = waitMonitor(ctx, monitor.Process.Pid, changes)
		wakeups++
	}
	cancel()
	if wakeups > 2 {
		t.Errorf("waitMonitor woke %d times in 0.5 s with nothing happening, want once (the ctx's end)", wakeups)
	}

	wakesBy := func(what string, do func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- waitMonitor(ctx, monitor.Process.Pid, changes) }()
		time.Sleep(50 * time.Millisecond)
		began := time.Now()
		do()
		select {
		case <-done:
			if d := time.Since(began); d > 500*time.Millisecond {
				t.Errorf("waitMonitor woke %v after %s", d, what)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("waitMonitor did not wake after %s", what)
		}
	}
	wakesBy("a state renamed into the dir", func() {
		tmp := filepath.Join(dir, ".state.tmp")
		if err := os.WriteFile(tmp, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "state.json")); err != nil {
			t.Fatal(err)
		}
	})

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The rename above may leave an event of its own queued behind the one that woke
		// the wait (the watcher can read between the two): a wake-up for it returns nil, as
		// callers allow (they read the state again), and the wait goes on.
		for {
			if err := waitMonitor(ctx, monitor.Process.Pid, changes); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("waitMonitor after its ctx was cancelled: %v, want context.Canceled", err)
		}
	case <-time.After(500 * time.Millisecond):
		t.Fatal("waitMonitor did not return within 0.5 s of its ctx's cancel")
	}

	wakesBy("the monitor's exit", func() {
		_ = monitor.Process.Kill()
		_ = monitor.Wait()
	})
	// A dir removed (the container's removal) wakes a wait with no monitor to watch.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	done = make(chan error, 1)
	go func() { done <- waitMonitor(ctx, 0, changes) }()
	time.Sleep(50 * time.Millisecond)
	began := time.Now()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		if d := time.Since(began); d > 500*time.Millisecond {
			t.Errorf("waitMonitor woke %v after the dir's removal", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitMonitor did not wake after the dir's removal")
	}
}
