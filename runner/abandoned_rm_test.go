package runner

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemoveOrphansAbandonedRm: a --rm container whose create was killed between its
// config.json and its state.json (a run --rm SIGKILLed there), and one killed before its
// config.json, are removed by the listing's sweep, as docker never shows a --rm container that
// ended nor a create that did not complete, and the name is free; one without --rm is kept
// for rm and prune to sweep, as before, and so is a --rm one whose create is alive (its mark
// held).
func TestRemoveOrphansAbandonedRm(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	abandon := func(name string, autoRemove bool) *Container {
		c, err := s.Create(Config{Name: name, Image: "alpine", AutoRemove: autoRemove})
		if err != nil {
			t.Fatal(err)
		}
		// As the kill left it: the mark written, state.json not yet.
		if err := os.Remove(filepath.Join(c.Dir, stateFile)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Dir, creatingFile), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		return c
	}
	rm := abandon("rm", true)
	plain := abandon("plain", false)
	// Killed before config.json too: listed as Dead, whatever it was to be.
	bare := abandon("bare", false)
	if err := os.Remove(filepath.Join(bare.Dir, configFile)); err != nil {
		t.Fatal(err)
	}
	alive := abandon("alive", true)
	unlock, err := alive.Lock() // not the mark: only the mark held says a create is alive
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	mark, err := os.OpenFile(filepath.Join(alive.Dir, creatingFile), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer mark.Close()
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	// Held by a live create from here on: hidden from the listing after, and kept.
	if err := unix.Flock(int(mark.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	kept, err := s.RemoveOrphans(list)
	if err != nil {
		t.Errorf("RemoveOrphans = %v", err)
	}
	for _, c := range []*Container{rm, bare, plain, alive} {
		_, err := os.Lstat(c.Dir)
		gone := errors.Is(err, os.ErrNotExist)
		inKept := slices.ContainsFunc(kept, func(k *Container) bool { return k.ID == c.ID })
		if want := c == rm || c == bare; gone != want || inKept == want {
			t.Errorf("container %s: removed %v, in the list kept %v; want removed %v", c.Config.Name, gone, inKept, want)
		}
	}
	if _, err := s.Create(Config{Name: "rm", Image: "alpine"}); err != nil {
		t.Errorf("creating a container of the abandoned one's name: %v", err)
	}
}
