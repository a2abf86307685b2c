package cgroups

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestFreezeFake: Freeze, Thaw and Frozen on fake v1, hybrid and v2 hosts. A cgroup with a
// cgroup2 node freezes there (cgroup.freeze, done when cgroup.events says frozen 1), whose
// frozen processes SIGKILL still ends; a v1-only one with the freezer controller
// (freezer.state). Thaw undoes both freezers, and Frozen sees either, a v1 freeze made by
// another tool on a hybrid host too. Without any freezer, Freeze is ErrUnsupported.
func TestFreezeFake(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     func(*testing.T) *hierarchy
		file  string // where Freeze writes
		value string // and what
	}{
		{"v1", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{}) }, "freezer/strata/c1/freezer.state", "FROZEN"},
		{"hybrid", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{hybrid: true}) }, unifiedDir + "/strata/c1/cgroup.freeze", "1"},
		{"v2", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }, "strata/c1/cgroup.freeze", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h(t)
			c, err := h.create("c1", Resources{})
			if err != nil {
				t.Fatal(err)
			}
			if node := c.v2Node(); node != "" {
				// The kernel reports the freeze done; the fake has no kernel.
				mustWrite(t, filepath.Join(node, "cgroup.events"), "populated 1\nfrozen 1\n")
			}
			if dir := c.ctrls["freezer"]; dir != "" {
				mustWrite(t, filepath.Join(dir, "freezer.state"), "THAWED\n")
			}
			if frozen, err := c.Frozen(); err != nil || frozen {
				t.Fatalf("Frozen before Freeze = %v, %v; want false", frozen, err)
			}
			if err := c.Freeze(); err != nil {
				t.Fatal(err)
			}
			if got := readFake(t, filepath.Join(h.root, tc.file)); got != tc.value {
				t.Errorf("after Freeze %s = %q, want %q", tc.file, got, tc.value)
			}
			if frozen, err := c.Frozen(); err != nil || !frozen {
				t.Errorf("Frozen after Freeze = %v, %v; want true", frozen, err)
			}
			if err := c.Thaw(); err != nil {
				t.Fatal(err)
			}
			if frozen, err := c.Frozen(); err != nil || frozen {
				t.Errorf("Frozen after Thaw = %v, %v; want false", frozen, err)
			}
			if dir := c.ctrls["freezer"]; dir != "" && c.v2Node() != "" {
				// Another tool's v1 freeze on a hybrid host shows, and Thaw undoes it.
				mustWrite(t, filepath.Join(dir, "freezer.state"), "FROZEN\n")
				if frozen, _ := c.Frozen(); !frozen {
					t.Errorf("Frozen with the v1 freezer FROZEN = false, want true")
				}
				if err := c.Thaw(); err != nil || readFake(t, filepath.Join(dir, "freezer.state")) != "THAWED" {
					t.Errorf("Thaw of a v1 freeze = %v, freezer.state %q; want THAWED", err, readFake(t, filepath.Join(dir, "freezer.state")))
				}
			}
		})
	}
	t.Run("never frozen", func(t *testing.T) {
		// A process the kernel cannot stop (an uninterruptible sleep): Freeze fails once
		// freezeWait is over and thaws again, where it returned nil and left the cgroup
		// asked to freeze, shown paused, after a wait that never saw it frozen.
		h := fakeV2(t, fakeOpts{})
		c, err := h.create("c1", Resources{})
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(c.v2Node(), "cgroup.events"), "populated 1\nfrozen 0\n")
		if err := c.Freeze(); !errors.Is(err, errNotFrozen) {
			t.Errorf("Freeze that never completes = %v, want errNotFrozen", err)
		}
		if got := readFake(t, filepath.Join(c.v2Node(), "cgroup.freeze")); got != "0" {
			t.Errorf("after a failed Freeze cgroup.freeze = %q, want 0 (thawed again)", got)
		}
		if frozen, _ := c.Frozen(); frozen {
			t.Error("Frozen after a failed Freeze = true, want false")
		}
	})
	t.Run("no freezer", func(t *testing.T) {
		h := fakeV1(t, fakeOpts{controllers: []string{"memory", "pids", "cpuacct", "devices"}})
		c, err := h.create("c1", Resources{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Freeze(); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Freeze without a freezer = %v, want ErrUnsupported", err)
		}
	})
}
