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
