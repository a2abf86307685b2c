package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/lockfile"
	"github.com/strata-run/strata/runner/cgroups"
)

// halfMade reserves name for a new container as a create does (name linked, dir and mark made,
// mark locked) and makes what its preparing would have begun, then returns it with the lock
// on its mark: a create stopped while it prepares the container. Unlocking the mark without
// finishing is a creator killed there (its flock goes with it; its files stay).
func halfMade(t *testing.T, s *Store, name string) (*Container, *lockfile.Lock) {
	t.Helper()
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: id, Dir: filepath.Join(s.Dir(), id), Config: Config{Name: name, Image: "alpine", AutoRemove: true}}
	mark, err := s.reserve(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mark.Unlock() })
	if err := os.MkdirAll(filepath.Join(c.Dir, "upper", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	return c, mark
}

// TestCreateKilledPreparingFreesName: a `create --name x` (or `run --rm --name x`) killed while
// it prepares its container, before config.json and state.json are written, leaves a dir no
// command can complete. Once its creator is dead (its mark's lock free), the next create of
// that name takes the name and removes the half-made dir and the cgroup its run made, where
// before it failed with the name in use for good. A creator still alive keeps both, and one
// killed between its config.json and its state.json leaves garbage all the same.
func TestCreateKilledPreparingFreesName(t *testing.T) {
	t.Run("creator alive", func(t *testing.T) {
		s, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c, _ := halfMade(t, s, "xx")
		if _, err := s.Create(Config{Name: "xx", Image: "alpine"}); !errors.Is(err, ErrNameInUse) {
			t.Errorf("Create(x) while x is prepared = %v, want ErrNameInUse", err)
		}
		if _, err := os.Lstat(filepath.Join(c.Dir, "upper", "etc")); err != nil {
			t.Errorf("the container being prepared lost its files: %v", err)
		}
		if got, _ := os.Readlink(s.nameLink("xx")); got != c.ID {
			t.Errorf("name x links to %q while its create prepares %s", got, c.ID)
		}
	})
	for _, tc := range []struct {
		name   string
		config bool // killed once config.json is written, before state.json
	}{{"killed preparing", false}, {"killed before state.json", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c, mark := halfMade(t, s, "xx")
			if tc.config {
				if err := writeJSON(filepath.Join(c.Dir, configFile), c.Config, false); err != nil {
					t.Fatal(err)
				}
			}
			cg, err := cgroups.New(c.ID, cgroups.Resources{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cg.Kill(); _ = cg.Delete() })
			if err := cg.Release(); err != nil { // the run holding it is killed too
				t.Fatal(err)
			}
			if err := mark.Unlock(); err != nil {
				t.Fatal(err)
			}
			next, err := s.Create(Config{Name: "xx", Image: "alpine"})
			if err != nil {
				t.Fatalf("Create(x) once the create of x was killed preparing it = %v, want it to take the name", err)
			}
			if got, _ := os.Readlink(s.nameLink("xx")); got != next.ID {
				t.Errorf("name x links to %q, want the new container %s", got, next.ID)
			}
			if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the half-made dir of the killed create is still there (%v)", err)
			}
			if _, err := cgroups.Load(c.ID); !errors.Is(err, cgroups.ErrNotFound) {
				t.Errorf("the cgroup of the killed create's run is still there (%v)", err)
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].ID != next.ID {
				t.Errorf("List = %d containers, want only the new x", len(list))
			}
		})
	}
}

// TestRemoveKilledPreparing: a create killed while it prepares the container leaves a dir that
// is listed as a dead container under its name, which rm removes, with its cgroup.
func TestRemoveKilledPreparing(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, mark := halfMade(t, s, "xx")
	cg, err := cgroups.New(c.ID, cgroups.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Kill(); _ = cg.Delete() })
	if err := errors.Join(cg.Release(), mark.Unlock()); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("xx")
	if err != nil || got.ID != c.ID || got.Broken == nil || got.State.Status != StatusDead {
		t.Fatalf("Get(x) once its create was killed = %+v, %v; want it, broken and dead", got, err)
	}
	if err := s.Remove(context.Background(), got, false); err != nil {
		t.Fatalf("Remove = %v", err)
	}
	wantAllGone(t, s, c, "xx", "Remove")
}

// wantAllGone fails t unless c's dir, its cgroup and the link of its name are gone; who
// names what should have removed them.
func wantAllGone(t *testing.T, s *Store, c *Container, name, who string) {
	t.Helper()
	if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left the dir (%v)", who, err)
	}
	if _, err := cgroups.Load(c.ID); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("%s left the cgroup (%v)", who, err)
	}
	if _, err := os.Lstat(s.nameLink(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left the name link (%v)", who, err)
	}
}

// TestNameIndexLostWhileCreating: a name is held by the index or by a live create preparing its
// container. When .names is missing or damaged while one prepares (its name known to its link
// alone, with no config.json yet), the index rebuilt by the next create links that name again,
// so no other container takes it. A dead create's name is not relinked: it is garbage.
func TestNameIndexLostWhileCreating(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(dir string) error
	}{
		{"missing", os.RemoveAll},
		{"a file", func(dir string) error {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			return os.WriteFile(dir, []byte("junk"), 0o600)
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			whole, err := s.Create(Config{Name: "whole", Image: "alpine"})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := halfMade(t, s, "xx")
			dead, deadMark := halfMade(t, s, "gone")
			if err := deadMark.Unlock(); err != nil {
				t.Fatal(err)
			}
			if err := damage.do(filepath.Join(s.Dir(), namesDir)); err != nil {
				t.Fatal(err)
			}
			if other, err := s.Create(Config{Name: "xx", Image: "alpine"}); !errors.Is(err, ErrNameInUse) {
				t.Fatalf("Create(x) while x is prepared and .names is %s = (created %v) %v; want ErrNameInUse", damage.name, other != nil, err)
			}
			if got, _ := os.Readlink(s.nameLink("xx")); got != c.ID {
				t.Errorf("name x links to %q once the index is rebuilt, want %s (being created)", got, c.ID)
			}
			if got, _ := os.Readlink(s.nameLink("whole")); got != whole.ID {
				t.Errorf("name whole links to %q once the index is rebuilt, want %s", got, whole.ID)
			}
			gone, err := s.Create(Config{Name: "gone", Image: "alpine"})
			if err != nil {
				t.Fatalf("Create(gone), whose create was killed, once the index is rebuilt = %v", err)
			}
			if c, err := s.Get("gone"); err != nil || c.ID != gone.ID {
				t.Errorf("Get(gone) = %v; want the new container, not the dead create's %.12s", err, dead.ID)
			}
		})
	}
}

// TestSweepOrphansKilledPreparing: the sweep of rm and prune (SweepLeftovers) removes the dir
// a create killed while it prepared the container left (and its cgroup and name link), and
// keeps one whose creator lives; the sweep at a run's exit does not look for them.
func TestSweepOrphansKilledPreparing(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	whole, err := s.Create(Config{Name: "whole", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	live, _ := halfMade(t, s, "live")
	dead, mark := halfMade(t, s, "dead")
	cg, err := cgroups.New(dead.ID, cgroups.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cg.Kill(); _ = cg.Delete() })
	if err := errors.Join(cg.Release(), mark.Unlock()); err != nil {
		t.Fatal(err)
	}
	// A killed `run --rm`'s create: its waiters file made, its state.json not.
	deadRm, markRm := halfMade(t, s, "deadrm")
	if err := os.WriteFile(filepath.Join(deadRm.Dir, waitersFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := markRm.Unlock(); err != nil {
		t.Fatal(err)
	}
	// A run's sweep leaves them (the next create of the name removes one).
	if err := s.sweepOrphans(false); err != nil {
		t.Fatalf("sweepOrphans(false) = %v", err)
	}
	if _, err := os.Lstat(dead.Dir); err != nil {
		t.Errorf("a run's sweep looked for abandoned dirs: %v", err)
	}
	if err := s.sweepOrphans(true); err != nil {
		t.Fatalf("sweepOrphans = %v", err)
	}
	wantAllGone(t, s, dead, "dead", "the sweep of the killed create")
	wantAllGone(t, s, deadRm, "deadrm", "the sweep of the killed --rm create")
	for _, c := range []*Container{whole, live} {
		if _, err := os.Lstat(c.Dir); err != nil {
			t.Errorf("the sweep removed %s: %v", c.Config.Name, err)
		}
	}
	if got, _ := os.Readlink(s.nameLink("live")); got != live.ID {
		t.Errorf("name live links to %q after the sweep, want %s", got, live.ID)
	}
}
