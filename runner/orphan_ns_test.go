package runner

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/strata-run/strata/runner/cgroups"
)

// TestOrphanInUseCgroupKept: a --rm container whose recorded monitor this process cannot see
// (a strata in another pid namespace recorded its own pid, which names nothing or another
// process here) but whose cgroup a live process holds is no orphan: ps, rm, prune and run
// would otherwise kill and delete a running container. The monitor is modelled by this test
// process, which holds the cgroup as New leaves it held.
func TestOrphanInUseCgroupKept(t *testing.T) {
	if os.Geteuid() != 0 || cgroups.Mode() == "none" {
		t.Skip("needs root and cgroups")
	}
	deadPid, deadStart := deadProcess(t)
	for _, sweep := range []string{"RemoveOrphans", "SweepOrphans"} {
		t.Run(sweep, func(t *testing.T) {
			s, c, cg := containerWithCgroup(t, Config{Image: "alpine", AutoRemove: true})
			c.State = State{Status: StatusRunning, MonitorPid: deadPid, MonitorStart: deadStart}
			if err := c.saveState(); err != nil {
				t.Fatal(err)
			}
			if sweep == "RemoveOrphans" {
				list, err := s.List()
				if err != nil {
					t.Fatal(err)
				}
				if kept, err := s.RemoveOrphans(list); err != nil || len(kept) != 1 {
					t.Errorf("RemoveOrphans = %d kept, %v, want the container kept", len(kept), err)
				}
			} else {
				_ = s.SweepOrphans()
			}
			if _, err := os.Lstat(c.Dir); err != nil {
				t.Errorf("container whose cgroup is held was removed: %v", err)
			}
			if _, err := cgroups.Load(c.ID); err != nil {
				t.Errorf("held cgroup was deleted: %v", err)
			}
			// Once its holder is gone it is an orphan again.
			if err := cg.Delete(); err != nil {
				t.Fatal(err)
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if kept, err := s.RemoveOrphans(list); err != nil || len(kept) != 0 {
				t.Errorf("RemoveOrphans once the cgroup is gone = %d kept, %v, want it removed", len(kept), err)
			}
		})
	}
}

// TestStartKeepsHeldCgroup: a start of a container whose recorded monitor this process cannot
// see but whose cgroup a live process holds (its run or monitor in another pid namespace) is
// refused as running, rather than killing and deleting that cgroup as a dead monitor's. Once
// nothing holds it, the cgroup is the dead monitor's and the start deletes it.
func TestStartKeepsHeldCgroup(t *testing.T) {
	if os.Geteuid() != 0 || cgroups.Mode() == "none" {
		t.Skip("needs root and cgroups")
	}
	deadPid, deadStart := deadProcess(t)
	_, c, cg := containerWithCgroup(t, Config{Image: "alpine"})
	c.State = State{Status: StatusCreated, MonitorPid: deadPid, MonitorStart: deadStart}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	if err := beginRun(c); !errors.Is(err, ErrRunning) {
		t.Errorf("start while another process holds the cgroup = %v, want ErrRunning", err)
	}
	loaded, err := cgroups.Load(c.ID)
	if err != nil {
		t.Fatalf("start deleted the cgroup another process holds: %v", err)
	}
	// Its holder is gone.
	if err := errors.Join(loaded.Release(), cg.Release()); err != nil {
		t.Fatal(err)
	}
	if err := beginRun(c); err != nil {
		t.Errorf("start once nothing holds the dead monitor's cgroup = %v", err)
	}
	if _, err := cgroups.Load(c.ID); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("the dead monitor's cgroup after the start: Load = %v, want ErrNotFound", err)
	}
}

// TestRemoveKeepsHeldCgroup: a plain rm of a container whose state reads as exited here (its
// monitor, in another pid namespace, is invisible) but whose cgroup a live process holds is
// refused as running, instead of killing it with its cgroup; rm -f removes it.
func TestRemoveKeepsHeldCgroup(t *testing.T) {
	if os.Geteuid() != 0 || cgroups.Mode() == "none" {
		t.Skip("needs root and cgroups")
	}
	deadPid, deadStart := deadProcess(t)
	s, c, _ := containerWithCgroup(t, Config{Image: "alpine"})
	c.State = State{Status: StatusRunning, Pid: deadPid, MonitorPid: deadPid, MonitorStart: deadStart}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(context.Background(), c, false); !errors.Is(err, ErrRunning) {
		t.Errorf("rm while another process holds the cgroup = %v, want ErrRunning", err)
	}
	if _, err := os.Lstat(c.Dir); err != nil {
		t.Errorf("rm removed the container whose cgroup is held: %v", err)
	}
	if !cgroups.Held(c.ID) {
		t.Error("rm deleted the held cgroup")
	}
	if err := s.Remove(context.Background(), c, true); err != nil {
		t.Errorf("rm -f = %v", err)
	}
	if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rm -f left the container: %v", err)
	}
}

// containerWithCgroup creates a container of cfg in a new store, and its cgroup, held by this
// process (as its run or monitor would hold it) until the test ends.
func containerWithCgroup(t *testing.T, cfg Config) (*Store, *Container, *cgroups.Cgroup) {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cg, err := cgroups.New(c.ID, cgroups.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Kill(); _ = cg.Delete() })
	return s, c, cg
}
