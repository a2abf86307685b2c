package cgroups

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSweepUnifiedLeftoverFake: on a hybrid host, Delete removes the unified node first and
// goes on to the v1 directories when the node stays busy (EBUSY past rmWait), so the node can
// outlive them. Sweep finds such a node under the unified parent and deletes it, by the same
// rules as a whole cgroup: not while it holds a process, nor before it is minAge old.
func TestSweepUnifiedLeftoverFake(t *testing.T) {
	h := fakeV1(t, fakeOpts{hybrid: true})
	name := strings.Repeat("9", 64)
	c, err := h.create(name, Resources{})
	if err != nil {
		t.Fatal(err)
	}
	procs := filepath.Join(c.unified, "cgroup.procs")
	mustWrite(t, procs, "4242\n") // a process still exiting, in the unified tree alone
	if err := c.Delete(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Delete with a busy unified node = %v, want ErrBusy", err)
	}
	for _, d := range c.ThreadDirs() {
		if isDir(d) {
			t.Fatalf("Delete left v1 directory %s; the test needs them gone", d)
		}
	}
	if !isDir(c.unified) {
		t.Fatalf("Delete removed the busy unified node %s", c.unified)
	}

	if swept, err := h.sweep(0); err != nil || len(swept) != 0 {
		t.Errorf("sweep with a process in the node = %v, %v, want nothing deleted", swept, err)
	}
	mustWrite(t, procs, "") // it exited
	if swept, err := h.sweep(StaleAge); err != nil || len(swept) != 0 {
		t.Errorf("sweep(%v) of a new node = %v, %v, want nothing deleted", StaleAge, swept, err)
	}
	old := time.Now().Add(-2 * StaleAge)
	if err := os.Chtimes(c.unified, old, old); err != nil {
		t.Fatal(err)
	}
	swept, err := h.sweep(StaleAge)
	if err != nil || !slices.Equal(swept, []string{name}) {
		t.Errorf("sweep of the stale node = %v, %v, want [%s]", swept, err, name[:12])
	}
	if isDir(c.unified) {
		t.Errorf("stale unified node %s is still there", c.unified)
	}
}

// TestSweepUnifiedLeftover: the same on this host's real trees, where the v1 directories are
// removed by hand. A stale node is deleted; one holding a process (moved into the unified tree
// alone) and a new one are kept.
func TestSweepUnifiedLeftover(t *testing.T) {
	h := hostHierarchy(t)
	if h.unified == "" {
		t.Skip("no unified cgroup2 tree on this host")
	}
	old := time.Now().Add(-2 * StaleAge)
	// leftover makes a cgroup and removes all but its unified node, as a Delete whose node
	// stayed busy does.
	leftover := func(c byte, aged bool) *Cgroup {
		t.Helper()
		name := strings.Repeat(string(c), 64)
		cg, err := h.create(name, Resources{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cg.Kill(); _ = cg.Delete() })
		if cg.unified == "" {
			t.Fatalf("cgroup %s has no unified node", name[:12])
		}
		cg.releaseHold()
		for _, d := range cg.ThreadDirs() {
			if err := h.rmdir(d); err != nil {
				t.Fatal(err)
			}
		}
		if aged {
			if err := os.Chtimes(cg.unified, old, old); err != nil {
				t.Fatal(err)
			}
		}
		return cg
	}
	stale := leftover('1', true)
	busy := leftover('2', true)
	fresh := leftover('3', false)
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }) // runs before busy's
	if err := writeFile(busy.unified, "cgroup.procs", strconv.Itoa(sleep.Process.Pid)); err != nil {
		t.Fatal(err)
	}

	swept, err := h.sweep(StaleAge)
	if err != nil {
		t.Fatalf("sweep = %v", err)
	}
	if !slices.Equal(swept, []string{stale.name}) {
		t.Errorf("sweep deleted %v, want only the stale %s", swept, stale.name[:12])
	}
	if isDir(stale.unified) {
		t.Errorf("stale unified node %s is still there", stale.unified)
	}
	for _, c := range []*Cgroup{busy, fresh} {
		if !isDir(c.unified) {
			t.Errorf("unified node %s was deleted", c.unified)
		}
	}
}
