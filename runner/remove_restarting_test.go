package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemoveRestarting: a plain remove (rm, container prune) of a container that a live
// restart has stopped and is about to start again is refused as docker refuses it ("container
// is restarting"), an ErrRunning that prune passes over: a container prune in that moment
// removed it and the restart failed with "no such container (removed)". A mark that names a
// dead restart, or none (a restart killed as it wrote it), keeps nothing; rm -f removes it.
func TestRemoveRestarting(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mark string
		force      bool
		refused    bool
	}{
		{"live", fmt.Sprintf("%d %d\n", os.Getpid(), start), false, true},
		{"live-force", fmt.Sprintf("%d %d\n", os.Getpid(), start), true, false},
		{"dead", fmt.Sprintf("%d %d\n", os.Getpid(), start+1), false, false},
		{"empty", "", false, false},
		{"garbage", "x y", false, false},
	} {
		c, err := s.Create(Config{Name: "rr-" + tc.name, Image: "alpine"})
		if err != nil {
			t.Fatal(err)
		}
		c.State = State{Status: StatusExited, ExitCode: 137}
		if err := c.saveState(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.Dir, restartingFile), []byte(tc.mark), 0o600); err != nil {
			t.Fatal(err)
		}
		err = s.Remove(context.Background(), c, tc.force)
		_, serr := os.Stat(c.Dir)
		if tc.refused {
			if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), `cannot remove container "rr-live": container is restarting: stop the container before removing or force remove`) {
				t.Errorf("%s: remove of a container a live restart stopped = %v, want docker's 'container is restarting', an ErrRunning", tc.name, err)
			}
			if serr != nil {
				t.Errorf("%s: refused, yet its dir is gone: %v", tc.name, serr)
			}
			continue
		}
		if err != nil || !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("%s: remove = %v, dir %v; want it removed", tc.name, err, serr)
		}
	}
}
