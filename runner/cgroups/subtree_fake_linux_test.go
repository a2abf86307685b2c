package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCgroupsMadeInside: a container whose /sys/fs/cgroup is writable (--privileged) may make
// cgroups under its own, as docker-in-docker, systemd or any runtime nested in it does. They
// kept its cgroup busy: Delete failed (the container's stop recorded 125, rm -f failed and
// left it), InUse called it in use for good (a --rm container whose monitor was killed was
// never removed) and Sweep kept it (a leak). Empty, they go with it now, deepest first; one
// holding a process keeps it, as a process of its own does.
func TestCgroupsMadeInside(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    func(t *testing.T) *hierarchy
	}{
		{"v2", func(t *testing.T) *hierarchy { return fakeV2(t, fakeOpts{}) }},
		{"hybrid", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{hybrid: true}) }},
		{"v1", func(t *testing.T) *hierarchy { return fakeV1(t, fakeOpts{}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h(t)
			name := strings.Repeat("7", 64)
			// nest makes, in every directory of c, the cgroups a nested runtime would:
			// init/ holding its processes, init/payload/ below it, and an empty one.
			nest := func(c *Cgroup) (inner []string) {
				t.Helper()
				for _, d := range c.dirs {
					for _, sub := range []string{"init", "init/payload", "empty"} {
						p := filepath.Join(d, sub)
						if err := h.mkdir(p); err != nil {
							t.Fatal(err)
						}
					}
					inner = append(inner, filepath.Join(d, "init", "payload"))
				}
				return inner
			}
			setProcs := func(dirs []string, procs string) {
				t.Helper()
				for _, d := range dirs {
					mustWrite(t, filepath.Join(d, "cgroup.procs"), procs)
				}
			}
			gone := func(what string) {
				t.Helper()
				if _, err := h.find(name); !errors.Is(err, ErrNotFound) {
					t.Errorf("%s: the cgroup is still there (find: %v)", what, err)
				}
				for _, d := range dirsUnder(t, h.root) {
					if strings.Contains(d, name) {
						t.Errorf("%s: %s is left", what, d)
					}
				}
			}

			// Delete, as a container's stop or rm -f does once its processes are gone.
			c, err := h.create(name, Resources{})
			if err != nil {
				t.Fatal(err)
			}
			inner := nest(c)
			setProcs(inner, "4242\n")
			if err := c.remove(); !errors.Is(err, ErrBusy) {
				t.Errorf("remove with a process in a cgroup made inside = %v, want ErrBusy", err)
			}
			setProcs(inner, "")
			if err := c.Delete(); err != nil {
				t.Errorf("Delete with empty cgroups made inside = %v, want them all removed", err)
			}
			gone("Delete")

			// InUse and Sweep, as for a container whose monitor was killed.
			c, err = h.create(name, Resources{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Delete() })
			inner = nest(c)
			c.releaseHold()
			old := time.Now().Add(-2 * StaleAge)
			for _, d := range c.dirs {
				if err := os.Chtimes(d, old, old); err != nil {
					t.Fatal(err)
				}
			}
			setProcs(inner, "4242\n")
			if !h.inUse(name) {
				t.Error("inUse with a process in a cgroup made inside = false")
			}
			if swept, err := h.sweep(StaleAge); err != nil || len(swept) != 0 {
				t.Errorf("sweep with a process in a cgroup made inside = %v, %v; want it kept", swept, err)
			}
			setProcs(inner, "")
			if h.inUse(name) {
				t.Error("inUse with only empty cgroups made inside = true, want false: nothing runs there")
			}
			if swept, err := h.sweep(StaleAge); err != nil || !slices.Equal(swept, []string{name}) {
				t.Errorf("sweep with only empty cgroups made inside = %v, %v; want it swept", swept, err)
			}
			gone("Sweep")
		})
	}
}
