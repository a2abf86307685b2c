package runner

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHealthWatch: the health checker's watch of the container dir (no root needed) takes
// an unpause's touch of health.json (markHealthUnpaused) for an unpause, which wakes no check,
// and a pause's rewrite (markHealthPaused), any file renamed in, for what wakes a check under
// way, which is no unpause; a change of another file's attributes is neither.
func TestHealthWatch(t *testing.T) {
	dir := t.TempDir()
	c := &Container{ID: strings.Repeat("b", 64), Dir: dir}
	c.Config.Healthcheck = &HealthConfig{Test: []string{"CMD", "true"}}
	if err := writeJSON(filepath.Join(dir, healthFile), Health{Status: HealthHealthy}, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	unpaused := make(chan struct{}, 1)
	w, err := newHealthWatch(ctx, dir, unpaused)
	if err != nil {
		t.Fatal(err)
	}
	woken := make(chan struct{}, 10)
	w.during(func() { woken <- struct{}{} })
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s in 10s", what)
		}
	}
	markHealthPaused(c)
	wait(woken, "wake at the pause's write")
	if len(unpaused) != 0 {
		t.Error("a pause's write was taken for an unpause")
	}
	if h, err := readHealthFile(dir); err != nil || h.Status != HealthUnhealthy {
		t.Fatalf("health.json after the pause = %+v, %v; want unhealthy", h, err)
	}

	markHealthUnpaused(c)
	wait(unpaused, "unpause at the unpause's touch")
	if h, err := readHealthFile(dir); err != nil || h.Status != HealthUnhealthy {
		t.Errorf("health.json after the unpause = %+v, %v; want it unchanged", h, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "other"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A rename after them: once its wake has come, they have been read.
	if err := writeJSON(filepath.Join(dir, stateFile), State{}, false); err != nil {
		t.Fatal(err)
	}
	wait(woken, "wake at a rename")
	if len(woken) != 0 {
		t.Error("an unpause's touch woke the check")
	}
	if len(unpaused) != 0 {
		t.Error("another file's chmod was taken for an unpause")
	}

	w.during(nil)
	markHealthUnpaused(c)
	wait(unpaused, "unpause between checks")
}

// TestInotifyEvents reads a batch as the kernel lays it out: names padded with NULs, and an
// overflow (lost events) taken for a rename, whose check paused() tells.
func TestInotifyEvents(t *testing.T) {
	event := func(mask uint32, name string) []byte {
		b := make([]byte, unix.SizeofInotifyEvent)
		n := 0
		if name != "" {
			n = (len(name) + 1 + 15) / 16 * 16
		}
		binary.NativeEndian.PutUint32(b[4:], mask)
		binary.NativeEndian.PutUint32(b[12:], uint32(n))
		return append(b, append([]byte(name), make([]byte, n-len(name))...)...)
	}
	for _, tt := range []struct {
		name             string
		batch            []byte
		renamed, touched bool
	}{
		{"touch", event(unix.IN_ATTRIB, healthFile), false, true},
		{"touch of another", event(unix.IN_ATTRIB, healthFile+".tmp"), false, false},
		{"rename", event(unix.IN_MOVED_TO, "state.json"), true, false},
		{"both", append(event(unix.IN_MOVED_TO, healthFile), event(unix.IN_ATTRIB, healthFile)...), true, true},
		{"overflow", event(unix.IN_Q_OVERFLOW, ""), true, false},
		{"cut short", event(unix.IN_ATTRIB, healthFile)[:20], false, false},
	} {
		if r, tc := inotifyEvents(tt.batch, healthFile); r != tt.renamed || tc != tt.touched {
			t.Errorf("%s: inotifyEvents = %v, %v; want %v, %v", tt.name, r, tc, tt.renamed, tt.touched)
		}
	}
}

// TestHealthWake: the checker's wake FIFO (no root needed) takes a pause's write
// (markHealthPaused) for what wakes a check under way, which is no unpause, and an unpause's
// (markHealthUnpaused) for an unpause, which wakes no check; once the checks stop, it has no
// reader and a pause writes nothing (nor blocks). It holds no inotify fd, whose close waited
// for an SRCU grace period at the monitor's exit.
func TestHealthWake(t *testing.T) {
	dir := t.TempDir()
	c := &Container{ID: strings.Repeat("b", 64), Dir: dir}
	c.Config.Healthcheck = &HealthConfig{Test: []string{"CMD", "true"}}
	if err := writeJSON(filepath.Join(dir, healthFile), Health{Status: HealthHealthy}, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	unpaused := make(chan struct{}, 1)
	// Counted before and after: the test binary's earlier tests (a stop's late-record
	// fallback, a watch closed on a goroutine) may still hold one of their own.
	before := inotifyFds(t)
	w, err := newHealthWake(ctx, dir, unpaused)
	if err != nil {
		t.Fatal(err)
	}
	if n := inotifyFds(t); n > before {
		t.Errorf("%d inotify fds open with the wake FIFO, %d before it: it opened one", n, before)
	}
	woken := make(chan struct{}, 10)
	w.during(func() { woken <- struct{}{} })
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s in 10s", what)
		}
	}
	markHealthPaused(c)
	wait(woken, "wake at the pause")
	if len(unpaused) != 0 {
		t.Error("a pause was taken for an unpause")
	}
	if h, err := readHealthFile(dir); err != nil || h.Status != HealthUnhealthy {
		t.Fatalf("health.json after the pause = %+v, %v; want unhealthy", h, err)
	}
	markHealthUnpaused(c)
	wait(unpaused, "unpause at the unpause")
	markHealthPaused(c) // after the unpause: once its wake has come, the unpause's was read
	wait(woken, "wake at a second pause")
	if len(woken) != 0 {
		t.Error("an unpause woke the check")
	}
	w.during(nil)
	markHealthUnpaused(c)
	wait(unpaused, "unpause between checks")

	cancel()
	name := filepath.Join(dir, healthWakeFile)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		fd, err := openFIFO(name, unix.O_WRONLY)
		if err != nil {
			break // ENXIO: no reader
		}
		unix.Close(fd)
		if time.Now().After(deadline) {
			t.Fatal("the wake FIFO still has a reader 10s after the checks stopped")
		}
	}
	markHealthPaused(c) // no reader: nothing written, nothing blocks

	// A new checker reads the FIFO a run before left.
	ctx2, cancel2 := context.WithCancel(context.Background())
	t.Cleanup(cancel2)
	unpaused2 := make(chan struct{}, 1)
	if _, err := newHealthWake(ctx2, dir, unpaused2); err != nil {
		t.Fatal(err)
	}
	markHealthUnpaused(c)
	wait(unpaused2, "unpause through the FIFO a run before left")
}

// TestHealthWakeNotFIFO: a damaged store's file in the wake FIFO's place is neither read by
// the checker (which falls back to its inotify watch) nor written by a pause.
func TestHealthWakeNotFIFO(t *testing.T) {
	dir := t.TempDir()
	c := &Container{ID: strings.Repeat("b", 64), Dir: dir}
	c.Config.Healthcheck = &HealthConfig{Test: []string{"CMD", "true"}}
	if err := writeJSON(filepath.Join(dir, healthFile), Health{Status: HealthHealthy}, false); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, healthWakeFile)
	if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := newHealthWake(ctx, dir, make(chan struct{}, 1)); err == nil {
		t.Error("newHealthWake read a regular file in the FIFO's place")
	}
	markHealthPaused(c)
	markHealthUnpaused(c)
	if b, err := os.ReadFile(name); err != nil || string(b) != "x" {
		t.Errorf("the regular file in the FIFO's place holds %q, %v; want x untouched", b, err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, healthFile), name); err != nil {
		t.Fatal(err)
	}
	if _, err := newHealthWake(ctx, dir, make(chan struct{}, 1)); err == nil {
		t.Error("newHealthWake followed a symlink in the FIFO's place")
	}
}

// inotifyFds counts this process's open inotify fds.
func inotifyFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}
