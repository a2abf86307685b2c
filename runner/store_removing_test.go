package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadBeingRemoved: a container an rm is removing (its lock held, its config.json gone,
// which removeDir deletes first) is no such container to a lookup meanwhile: an exec racing
// an rm -f said "container is broken: …: config.json: no such file or directory". Once no rm
// holds it (an rm killed half-way) the same dir is a broken container again, listed for rm to
// remove.
func TestLoadBeingRemoved(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "removing"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(c.Dir, configFile)); err != nil {
		t.Fatal(err)
	}
	unlock, err := c.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a container being removed = %+v, %v; want no such container", got, err)
	}
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Errorf("List while it is removed = %d containers, %v; want none", len(list), err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(c.ID)
	if err != nil || got.Broken == nil {
		t.Errorf("Get of a half-removed container = %+v, %v; want it, broken", got, err)
	}
}
