package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestartRemovedMeanwhile: a restart of a container an rm -f removes after the restart
// read it fails with "no such container (removed)", as every other command that finds its
// container gone. It failed writing its restart mark: "restarting container …: marking it:
// writing …/restarting: open …/.restarting.tmp-…: no such file or directory".
func TestRestartRemovedMeanwhile(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "restart-removed"})
	if err != nil {
		t.Fatal(err)
	}
	// The rm, once the restart has read the container's state: its dir renamed away, as
	// removeDir does first.
	var rmErr error
	afterStateRead = func() {
		afterStateRead = nil
		rmErr = os.Rename(c.Dir, filepath.Join(filepath.Dir(c.Dir), removingPrefix+c.ID))
	}
	t.Cleanup(func() { afterStateRead = nil })
	err = Restart(context.Background(), c, 0)
	if rmErr != nil {
		t.Fatal(rmErr)
	}
	if !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), c.Dir) {
		t.Errorf("restart of a container removed meanwhile = %v, want no such container (removed)", err)
	}
}
