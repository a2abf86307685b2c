package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
)

// TestDiffRemovedWhileRead: diff of a container an rm -f removes while its writable layer is
// walked fails with "no such container (removed)". The walk takes an entry gone meanwhile for
// one the running container removed, and diff listed what the removal had left, exit 0.
func TestDiffRemovedWhileRead(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateWith(Config{}, func(dir string) ([]mount.Mount, error) {
		for _, d := range []string{"lower", "upper", "work"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return nil, err
			}
		}
		return []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
			"lowerdir=" + filepath.Join(dir, "lower"), "upperdir=" + filepath.Join(dir, "upper"), "workdir=" + filepath.Join(dir, "work"),
		}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		d := filepath.Join(c.Dir, "upper", fmt.Sprintf("d%d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if changes, err := Diff(c); err != nil || len(changes) != 8 {
		t.Fatalf("diff of the container = %v, %v; want its 8 additions", changes, err)
	}
	// The rm, once the top of the layer is listed: the dir renamed away (removeDir), and
	// half of it removed.
	var rmErr error
	diffListed = func(rel string) {
		if rel != "" {
			return
		}
		diffListed = nil
		gone := filepath.Join(filepath.Dir(c.Dir), removingPrefix+c.ID)
		if rmErr = os.Rename(c.Dir, gone); rmErr != nil {
			return
		}
		for _, d := range []string{"d2", "d3"} {
			if err := os.RemoveAll(filepath.Join(gone, "upper", d)); err != nil {
				rmErr = err
			}
		}
	}
	t.Cleanup(func() { diffListed = nil })
	changes, err := Diff(c)
	if rmErr != nil {
		t.Fatal(rmErr)
	}
	if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), c.Dir) {
		t.Errorf("diff of a container removed meanwhile = %v, %v; want no such container (removed)", changes, err)
	}
	// Removed before: the same error, naming no path of the store.
	if _, err := Diff(c); !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), c.Dir) {
		t.Errorf("diff of a removed container = %v, want no such container (removed)", err)
	}
}
