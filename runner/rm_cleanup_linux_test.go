package runner

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/strata-run/strata/runner/cgroups"
)

// TestRunContainerCleanupComplete checks that a foreground run leaves nothing once
// RunContainer returns: no cgroup, and for --rm no dir, no name and no renamed dir; a kept
// container is recorded exited with its cgroup gone. A guard for changes that move parts of
// the cleanup off its path (removing the cgroup or the dir in the background).
func TestRunContainerCleanupComplete(t *testing.T) {
	for _, rm := range []bool{true, false} {
		s, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c := testContainer(t, s, "cleaned", "sh", "-c", "mkdir -p /a/b/c && echo x > /a/b/c/f && exit 3")
		c.Config.AutoRemove = rm
		if err := c.SaveConfig(); err != nil {
			t.Fatal(err)
		}
		code, err := RunContainer(context.Background(), c, Stdio{})
		if err != nil || code != 3 {
			t.Fatalf("RunContainer(rm %v) = %d, %v, want 3", rm, code, err)
		}
		if _, err := cgroups.Load(c.CgroupKey()); !errors.Is(err, cgroups.ErrNotFound) {
			t.Errorf("rm %v: the container's cgroup once RunContainer returned: %v, want it gone", rm, err)
		}
		if !rm {
			got, err := s.Get("cleaned")
			if err != nil || got.State.Status != StatusExited || got.State.ExitCode != 3 {
				t.Errorf("kept container: %v, %+v, want exited 3", err, got)
			}
			continue
		}
		ents, err := os.ReadDir(s.Dir())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.Contains(e.Name(), c.ID) {
				t.Errorf("--rm: %s left in the store", e.Name())
			}
		}
		if _, err := s.Get("cleaned"); err == nil {
			t.Error("--rm: the container's name still names a container")
		}
	}
}
