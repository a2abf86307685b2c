package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner/cgroups"
)

// freezeContainer freezes c's cgroup as a pause does (the v1 freezer, else cgroup.freeze) and
// returns what thaws it again; the test's cleanup thaws it too.
func freezeContainer(t *testing.T, c *Container) (thaw func()) {
	t.Helper()
	cg, err := cgroups.Load(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.Close() })
	file, frozen, thawed := "", "", ""
	for _, d := range cg.ThreadDirs() {
		if _, err := os.Stat(filepath.Join(d, "freezer.state")); err == nil {
			file, frozen, thawed = filepath.Join(d, "freezer.state"), "FROZEN", "THAWED"
		}
	}
	if file == "" {
		fd, ok := cg.BirthFD()
		if !ok {
			t.Skip("no freezer for the container's cgroup")
		}
		dir, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			t.Fatal(err)
		}
		file, frozen, thawed = filepath.Join(dir, "cgroup.freeze"), "1", "0"
	}
	thaw = func() { _ = os.WriteFile(file, []byte(thawed), 0) }
	t.Cleanup(thaw)
	if err := os.WriteFile(file, []byte(frozen), 0); err != nil {
		t.Fatal(err)
	}
	return thaw
}

// TestExecPaused: exec into a container whose cgroup is frozen is refused at once, as
// docker's "container is paused" is: the helper joined the cgroup, froze with it, and strata
// waited for its answer for good, deaf to ^C and SIGTERM, which it keeps for the command.
func TestExecPaused(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	thaw := freezeContainer(t, c)
	// Should the refusal not come, the container thaws after a while and the exec ends.
	timer := time.AfterFunc(5*time.Second, thaw)
	defer timer.Stop()
	start := time.Now()
	code, err := Exec(context.Background(), c, ExecOptions{Args: []string{"true"}}, Stdio{})
	if !errors.Is(err, ErrPaused) || code != ExitOwnError || time.Since(start) > 4*time.Second {
		t.Errorf("Exec(paused container) = %d, %v after %v, want %d, ErrPaused at once", code, err, time.Since(start).Round(time.Millisecond), ExitOwnError)
	}
	thaw()
	if code, _, _, err := execOut(t, c, ExecOptions{Args: []string{"true"}}); code != 0 || err != nil {
		t.Errorf("Exec(thawed container) = %d, %v, want 0", code, err)
	}
}
