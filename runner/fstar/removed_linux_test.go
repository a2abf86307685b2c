package fstar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner"
)

// removingWriter is the tar's reader while an rm -f removes the container: at the first write,
// the container's dir is renamed away, as removeDir does, and half its writable layer's
// directories removed, the removal half done while the walk goes on.
type removingWriter struct {
	dir     string
	removed bool
	err     error
}

func (w *removingWriter) Write(p []byte) (int, error) {
	if !w.removed {
		w.removed = true
		gone := filepath.Join(filepath.Dir(w.dir), ".removing-"+filepath.Base(w.dir))
		if err := os.Rename(w.dir, gone); err != nil {
			w.err = err
			return len(p), nil
		}
		for i := 10; i < 20; i++ {
			if err := os.RemoveAll(filepath.Join(gone, "upper", fmt.Sprintf("d%02d", i))); err != nil {
				w.err = err
			}
		}
	}
	return len(p), nil
}

// removableContainer is a container whose writable layer holds files in many directories,
// its dir in a store of its own.
func removableContainer(t *testing.T) *runner.Container {
	t.Helper()
	s, err := runner.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateWith(runner.Config{}, func(dir string) ([]mount.Mount, error) {
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
	for i := range 20 {
		d := filepath.Join(c.Dir, "upper", fmt.Sprintf("d%02d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 20 {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%02d", j)), []byte("data\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return c
}

// TestRemovedWhileRead: a container an rm -f removes while commit or export reads its files
// fails them with "no such container (removed)". export wrote what the removal had left (and
// the image's files in place of the rest) and exited 0; commit made an image of part of the
// container's changes, or failed naming a path of the store.
func TestRemovedWhileRead(t *testing.T) {
	for _, what := range []string{"commit", "export"} {
		t.Run(what, func(t *testing.T) {
			c := removableContainer(t)
			// The walk's own read of the whole layer first: it is the removal that fails it.
			var err error
			if what == "commit" {
				err = WriteChanges(context.Background(), c, io.Discard)
			} else {
				err = Export(context.Background(), c, nil, io.Discard)
			}
			if err != nil {
				t.Fatalf("%s of the container: %v", what, err)
			}
			w := &removingWriter{dir: c.Dir}
			if what == "commit" {
				err = WriteChanges(context.Background(), c, w)
			} else {
				err = Export(context.Background(), c, nil, w)
			}
			if w.err != nil || !w.removed {
				t.Fatalf("removing the container meanwhile: %v (removed %v)", w.err, w.removed)
			}
			if !errors.Is(err, runner.ErrNotFound) || strings.Contains(err.Error(), c.Dir) {
				t.Errorf("%s of a container removed meanwhile = %v, want no such container (removed), naming no path", what, err)
			}
		})
	}
}
