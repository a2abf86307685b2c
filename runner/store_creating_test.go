package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/lockfile"
)

// TestCreatingUnlockedMark: a create makes its mark (O_CREAT) and only then locks it, and makes
// the dir before the mark, all under the store lock. A listing that finds the mark unlocked, or
// missing, in that moment must not take the dir for a dead container (an rm or prune would
// then delete it under its creator): it looks again under the store lock.
func TestCreatingUnlockedMark(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Dir(), "c0ffee")
	if err := os.Mkdir(dir, 0o710); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mark bool
	}{{"mark made, not locked yet", true}, {"dir made, mark not yet", false}} {
		t.Run(tc.name, func(t *testing.T) {
			mark := filepath.Join(dir, creatingFile)
			os.Remove(mark)
			if tc.mark {
				if err := os.WriteFile(mark, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// The creator, in reserve, holds the store lock.
			l, err := lockfile.Acquire(filepath.Join(s.Dir(), ".lock"), 0o600, true)
			if err != nil {
				t.Fatal(err)
			}
			if !s.creating(dir) {
				t.Error("creating = false while a create holds the store lock: the half-made dir would read as dead")
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			// No create under way and no one holds the mark: a dead one, listed and removable.
			if s.creating(dir) {
				t.Error("creating = true with the store and the mark free: a dead create's dir would hide")
			}
		})
	}
}
