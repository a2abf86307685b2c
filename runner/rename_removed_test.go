package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/lockfile"
)

// TestRenameRemovedMeanwhile: a rename that waited for the container's lock while an rm -f
// removed the container (rm holds the lock as it renames the dir away and empties it) fails
// as a container that is gone, ErrNotFound, "no such container (removed)", not with the
// path of the config.json it could not read.
func TestRenameRemovedMeanwhile(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "rn-old", Image: "alpine"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lockfile.Acquire(filepath.Join(c.Dir, lockFile), 0o600, true)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Rename(c, "rn-new") }()
	time.Sleep(200 * time.Millisecond) // Rename waits at the lock, its file open
	// What removeDir does under the lock: the dir renamed out of sight, then emptied.
	gone := filepath.Join(filepath.Dir(c.Dir), removingPrefix+c.ID)
	if err := os.Rename(c.Dir, gone); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(gone, configFile)); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	err = <-done
	if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), configFile) {
		t.Errorf("rename of a container removed meanwhile = %v, want ErrNotFound without the config's path", err)
	}
}
