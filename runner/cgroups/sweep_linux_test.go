package cgroups

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSweep: of the cgroups under strata's parent, Sweep deletes only those a killed strata
// left behind: unheld, empty and old. One a live process holds (made or loaded), one that
// holds a process, a new one and one not named as a container are kept.
func TestSweep(t *testing.T) {
	h := hostHierarchy(t)
	id := func(c byte) string { return strings.Repeat(string(c), 64) }
	old := time.Now().Add(-2 * StaleAge)
	mk := func(name string, aged bool) *Cgroup {
		t.Helper()
		c, err := h.create(name, Resources{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Kill(); _ = c.Delete() })
		if aged {
			for _, d := range c.dirs {
				if err := os.Chtimes(d, old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
		return c
	}
	leaked := mk(id('a'), true)
	leaked.releaseHold() // as a strata SIGKILLed after making it
	held := mk(id('b'), true)
	loaded := mk(id('c'), true)
	loaded.releaseHold()
	reloaded, err := h.load(id('c')) // as a monitor adopting it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reloaded.releaseHold)
	fresh := mk(id('d'), false)
	fresh.releaseHold()
	busy := mk(id('e'), true)
	busy.releaseHold()
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() })
	if err := busy.AddProc(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	released := mk(id('f'), true)
	if err := released.Release(); err != nil { // as stats does after each sample
		t.Fatal(err)
	}
	other := mk("not-a-container-"+strconv.Itoa(os.Getpid()), true)
	other.releaseHold()

	swept, err := h.sweep(StaleAge)
	if err != nil {
		t.Fatalf("sweep = %v", err)
	}
	if !slices.Equal(swept, []string{id('a'), id('f')}) {
		t.Errorf("sweep deleted %v, want only the leaked %s and the released %s", swept, id('a')[:12], id('f')[:12])
	}
	for _, c := range []*Cgroup{held, reloaded, fresh, busy, other} {
		if _, err := h.find(c.name); err != nil {
			t.Errorf("cgroup %s was deleted: %v", c.name[:12], err)
		}
	}
	for _, name := range swept {
		if _, err := h.find(name); err == nil {
			t.Errorf("swept cgroup %s is still there", name[:12])
		}
	}
}

// TestSweepSparesCgroupBeingMade: a cgroup between New's mkdir and its hold is held by no
// process and holds none, yet is in use; the parent lock New holds through that window keeps
// Sweep from it at any age. Sweep deletes it once the parent is free.
func TestSweepSparesCgroupBeingMade(t *testing.T) {
	h := hostHierarchy(t)
	name := strings.Repeat("7", 64)
	c, err := h.create(name, Resources{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Kill(); _ = c.Delete() })
	c.releaseHold() // as New is before takeHold
	unlock, err := h.lockParent()
	if err != nil {
		t.Fatal(err)
	}
	swept, err := h.sweep(0)
	if err != nil || len(swept) != 0 {
		t.Errorf("sweep while a cgroup is made = %v, %v, want nothing deleted", swept, err)
	}
	if _, err := h.find(name); err != nil {
		t.Errorf("cgroup being made was deleted: %v", err)
	}
	unlock()
	swept, err = h.sweep(0)
	if err != nil || !slices.Equal(swept, []string{name}) {
		t.Errorf("sweep once the parent is free = %v, %v, want [%s]", swept, err, name[:12])
	}
}

// TestSweepRacesNew: cgroups made and deleted in a loop, as runs do, while Sweep runs with no
// age at all: no New fails, and no cgroup vanishes before its maker deletes it.
func TestSweepRacesNew(t *testing.T) {
	h := hostHierarchy(t)
	stop := make(chan struct{})
	sweeps := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				sweeps <- n
				return
			default:
			}
			if _, err := h.sweep(0); err != nil {
				t.Errorf("sweep = %v", err)
			}
			n++
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	made := 0
	for i := 0; time.Now().Before(deadline); i++ {
		name := strconv.Itoa(1000000+i) + strings.Repeat("a", 57)
		c, err := h.create(name, Resources{})
		if err != nil {
			t.Errorf("New(%s) = %v", name[:12], err)
			break
		}
		made++
		for _, d := range c.dirs {
			if _, err := os.Stat(d); err != nil {
				t.Errorf("cgroup %s lost %s before its Delete: %v", name[:12], d, err)
			}
		}
		if err := c.Delete(); err != nil {
			t.Errorf("Delete(%s) = %v", name[:12], err)
		}
	}
	close(stop)
	t.Logf("%d cgroups made against %d sweeps", made, <-sweeps)
}

// TestNewOutlastsStoppedSweep: a Sweep stopped while it holds the parent lock (SIGSTOP, a
// frozen cgroup) delays a New by parentLockWait at most, rather than stopping every run.
func TestNewOutlastsStoppedSweep(t *testing.T) {
	h := hostHierarchy(t)
	unlock, err := h.lockParent() // makes the parent
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	fd, err := unix.Open(h.parentLockDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c, err := h.create(strings.Repeat("5", 64), Resources{})
	if err != nil {
		t.Fatalf("New while a sweep holds the parent lock = %v", err)
	}
	t.Cleanup(func() { _ = c.Kill(); _ = c.Delete() })
	if d := time.Since(start); d < parentLockWait || d > parentLockWait+5*time.Second {
		t.Errorf("New while a sweep holds the parent lock took %v, want about %v", d, parentLockWait)
	}
}

// TestSweepLetsYoungGo: while a Sweep removes a stale cgroup, a young one it met unheld (a
// killed run's, whose container the next ps judges an orphan by it) is free: its orphan
// check tells it unheld at once, where it waited parentLockWait and counted it in use.
func TestSweepLetsYoungGo(t *testing.T) {
	h := hostHierarchy(t)
	stale, young := strings.Repeat("a", 64), strings.Repeat("b", 64)
	old := time.Now().Add(-2 * StaleAge)
	for _, name := range []string{stale, young} {
		c, err := h.create(name, Resources{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Kill(); _ = c.Delete() })
		c.releaseHold() // as a strata SIGKILLed after making it
		if name == stale {
			for _, d := range c.dirs {
				if err := os.Chtimes(d, old, old); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	judged := false
	sweepJudging = func(name string) {
		if name != stale {
			return
		}
		judged = true
		start := time.Now()
		if _, held, err := h.held(young); err != nil || held {
			t.Errorf("while a sweep removes a stale cgroup, held(young) = %v, %v after %v: want free", held, err, time.Since(start).Round(time.Millisecond))
		}
	}
	t.Cleanup(func() { sweepJudging = nil })
	swept, err := h.sweep(StaleAge)
	if err != nil {
		t.Fatalf("sweep = %v", err)
	}
	if !judged {
		t.Fatal("the sweep never judged the stale cgroup")
	}
	if !slices.Equal(swept, []string{stale}) {
		t.Errorf("sweep deleted %v, want only the stale %s", swept, stale[:12])
	}
}
