package cgroups

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHeld: held tells a cgroup a live process holds (shared) from one nothing holds, and
// waits out a Sweep that locks it exclusively while judging it rather than taking that for a
// holder; one swept meanwhile is gone. inUse adds what runs in it.
func TestHeld(t *testing.T) {
	h := hostHierarchy(t)
	name := strings.Repeat("4", 64)
	c, err := h.create(name, Resources{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill(); _ = c.Delete() })
	if _, held, err := h.held(name); err != nil || !held {
		t.Errorf("held of a cgroup New holds = %v, %v, want true", held, err)
	}
	c.releaseHold()
	if _, held, err := h.held(name); err != nil || held {
		t.Errorf("held of a cgroup nothing holds = %v, %v, want false", held, err)
	}
	if h.inUse(name) {
		t.Error("inUse of an empty cgroup nothing holds = true")
	}

	// A sweep judging it: exclusive for a while, then let go.
	fd, err := unix.Open(c.lockDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); unix.Flock(fd, unix.LOCK_UN) }()
	if _, held, err := h.held(name); err != nil || held {
		t.Errorf("held while a sweep judged it = %v, %v, want false once the sweep let go", held, err)
	}

	// A sweep that deletes it meanwhile.
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(100 * time.Millisecond); _ = c.remove() }()
	if _, held, err := h.held(name); !errors.Is(err, ErrNotFound) || held {
		t.Errorf("held of a cgroup a sweep deleted = %v, %v, want ErrNotFound", held, err)
	}
	if h.inUse(name) {
		t.Error("inUse of a deleted cgroup = true")
	}
}
