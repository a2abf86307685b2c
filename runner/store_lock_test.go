package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-run/strata/mount"
)

// TestStoreCreateSlowRoot: a create whose root takes long (a VOLUME of many files is copied)
// holds the store lock only to reserve its name and make its dir. Meanwhile other creates
// go ahead, its name stays taken, and neither a listing nor a sweep nor a lookup finds the
// half-made container; once done it is whole.
func TestStoreCreateSlowRoot(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan string), make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // a failed check must not leave the create blocked
	want := []mount.Mount{{Type: "bind", Source: "/src", Target: "/"}}
	type created struct {
		c   *Container
		err error
	}
	done := make(chan created, 1)
	go func() {
		c, err := s.CreateWith(Config{Name: "slow", Image: "alpine", AutoRemove: true}, func(dir string) ([]mount.Mount, error) {
			if err := os.WriteFile(filepath.Join(dir, "upper"), []byte("made"), 0o600); err != nil {
				return nil, err
			}
			entered <- dir
			<-release
			return want, nil
		})
		done <- created{c, err}
	}()
	var dir string
	select {
	case dir = <-entered:
	case r := <-done:
		t.Fatalf("CreateWith ended before its root was made: %v", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("CreateWith never called its root func")
	}
	id := filepath.Base(dir)

	within(t, 5*time.Second, "a Create while another prepares its root", func() {
		if _, err := s.Create(Config{Name: "other", Image: "alpine"}); err != nil {
			t.Errorf("Create(other) while slow prepares = %v", err)
		}
	})
	within(t, 5*time.Second, "a Create of the same name while it prepares", func() {
		if _, err := s.Create(Config{Name: "slow", Image: "alpine"}); !errors.Is(err, ErrNameInUse) {
			t.Errorf("Create(slow) while slow prepares = %v, want ErrNameInUse", err)
		}
	})
	within(t, 5*time.Second, "List, Get and the sweeps while it prepares", func() {
		list, err := s.List()
		if err != nil {
			t.Fatalf("List = %v", err)
		}
		var names []string
		for _, c := range list {
			names = append(names, c.Config.Name)
		}
		if !slices.Equal(names, []string{"other"}) {
			t.Errorf("List while slow prepares = %v, want [other]", names)
		}
		for _, ref := range []string{"slow", id, id[:12]} {
			if c, err := s.Get(ref); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q) while slow prepares = %v, %v; want ErrNotFound", ref, c, err)
			}
		}
		if _, err := s.RemoveOrphans(list); err != nil {
			t.Errorf("RemoveOrphans = %v", err)
		}
		if err := s.Rename(list[0], "slow"); !errors.Is(err, ErrNameInUse) {
			t.Errorf("Rename(other, slow) while slow prepares = %v, want ErrNameInUse", err)
		}
	})
	if _, err := os.Lstat(filepath.Join(dir, "upper")); err != nil {
		t.Fatalf("the container being made lost its files: %v", err)
	}

	unblock()
	var r created
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("CreateWith never ended once its root was made")
	}
	if r.err != nil {
		t.Fatalf("CreateWith = %v", r.err)
	}
	got, err := s.Get("slow")
	if err != nil {
		t.Fatalf("Get(slow) once created = %v", err)
	}
	if got.ID != id || got.Broken != nil || got.State.Status != StatusCreated || !slices.EqualFunc(got.Config.Spec.Root, want, func(a, b mount.Mount) bool {
		return a.Type == b.Type && a.Source == b.Source && a.Target == b.Target
	}) {
		t.Errorf("Get(slow) = %+v, want %s created with root %v", got, id[:12], want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "upper")); err != nil || string(b) != "made" {
		t.Errorf("the created container's files: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, waitersFile)); err != nil {
		t.Errorf("the --rm container has no %s: %v", waitersFile, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, creatingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the created container's %s: %v, want it removed", creatingFile, err)
	}
	if err := s.Remove(context.Background(), got, false); err != nil {
		t.Errorf("Remove(slow) = %v", err)
	}
}

// TestStoreCreateRootFails: a create whose root fails leaves neither its dir nor its name.
func TestStoreCreateRootFails(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bad := errors.New("no space left")
	var dir string
	_, err = s.CreateWith(Config{Name: "xx", Image: "alpine"}, func(d string) ([]mount.Mount, error) {
		dir = d
		return nil, errors.Join(os.MkdirAll(filepath.Join(d, "upper", "a", "b"), 0o700), bad)
	})
	if !errors.Is(err, bad) {
		t.Fatalf("CreateWith with a failing root = %v, want %v", err, bad)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed container's dir: %v, want it gone", err)
	}
	if _, err := s.Create(Config{Name: "xx", Image: "alpine"}); err != nil {
		t.Errorf("Create(x) after the failed one = %v", err)
	}
}

// TestStoreCreatorDied: a container dir whose creator died before it wrote config.json (it
// holds no lock any more) is a broken container, listed under its name and removable, as a
// create killed under the store lock left it before. It holds its name only until a create
// of that name removes it (TestCreateKilledPreparingFreesName).
func TestStoreCreatorDied(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: id, Dir: filepath.Join(s.Dir(), id), Config: Config{Name: "dead"}}
	l, err := s.reserve(c)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Errorf("List while its creator holds it = %v, %v; want nothing", list, err)
	}
	l.Unlock() // as the creator's death does
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Broken == nil || list[0].Config.Name != "dead" || list[0].State.Status != StatusDead {
		t.Fatalf("List once its creator died = %v, %v; want %s broken, dead, named dead", list, err, id[:12])
	}
	got, err := s.Get("dead")
	if err != nil {
		t.Fatalf("Get(dead) = %v", err)
	}
	if err := s.Remove(context.Background(), got, false); err != nil {
		t.Fatalf("Remove(dead) = %v", err)
	}
	if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("its dir after Remove: %v, want gone", err)
	}
}
