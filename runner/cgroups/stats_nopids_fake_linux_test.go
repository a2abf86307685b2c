package cgroups

import (
	"path/filepath"
	"testing"
)

// TestStatsWithoutPidsController: on a v2 host without the pids controller (off, or held by
// v1 hierarchies, as on this hybrid host seen as pure v2) there is no pids.current, and stats
// showed 0 tasks for a running container. They are counted from cgroup.threads, in the cgroup
// and those made under it; where pids.current exists it is what counts.
func TestStatsWithoutPidsController(t *testing.T) {
	h := fakeV2(t, fakeOpts{controllers: []string{"hugetlb"}})
	c, err := h.create("c1", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(c.dir, "cgroup.threads"), "100\n101\n")
	sub := filepath.Join(c.dir, "init")
	if err := h.mkdir(sub); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(sub, "cgroup.threads"), "102\n")
	if got, err := c.Stats(); err != nil || got.PidsCurrent != 3 || got.PidsLimit != 0 {
		t.Errorf("Stats() without the pids controller = %+v, %v; want 3 tasks (cgroup.threads), no limit", got, err)
	}

	h = fakeV2(t, fakeOpts{})
	c, err = h.create("c2", Resources{})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(c.dir, "cgroup.threads"), "100\n101\n")
	mustWrite(t, filepath.Join(c.dir, "pids.current"), "0\n")
	if got, err := c.Stats(); err != nil || got.PidsCurrent != 0 {
		t.Errorf("Stats() with the pids controller = %+v, %v; want pids.current's 0", got, err)
	}
}
