package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-run/strata/mount"
)

// TestStartKeepsLastStartTime: a monitor's record of itself (markMonitor) keeps the last run's
// start time until the new run records its own. A restart of a --rm container SIGKILLed while
// its monitor started it left a state without any, and every start after refused the
// container's volatile writable layer as if the machine had restarted since it ran
// (readyVolatileRoot), though it had run a moment before.
func TestStartKeepsLastStartTime(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "kk", Image: "alpine", AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	upper, work := filepath.Join(c.Dir, "upper"), filepath.Join(c.Dir, "work")
	mark := filepath.Join(work, "work", "incompat", "volatile")
	for _, d := range []string{upper, mark} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.Config.Spec.Root = []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
		"lowerdir=/x", "upperdir=" + upper, "workdir=" + work, "volatile",
	}}}
	started := time.Now().Add(-time.Minute).UTC()
	c.State = State{Status: StatusExited, StartedAt: started, FinishedAt: started.Add(time.Second)}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	// The restart's monitor records itself, then dies before the command runs.
	if err := markMonitor(c, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if !c.State.StartedAt.Equal(started) {
		t.Errorf("StartedAt after markMonitor = %v, want the last run's %v", c.State.StartedAt, started)
	}
	if err := readyVolatileRoot(c); err != nil {
		t.Errorf("the next start after a monitor died starting it: %v", err)
	}
	if _, err := os.Stat(mark); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("volatile mark after readyVolatileRoot: %v, want gone", err)
	}
	// A run that ends before recordRunning takes its own start time, not the last run's.
	now := time.Now().UTC()
	noteExit(c, result{StartedAt: now}, nil)
	if !c.State.StartedAt.Equal(now) {
		t.Errorf("StartedAt of a run that ended before it was recorded running = %v, want %v", c.State.StartedAt, now)
	}
	// One recorded running keeps the time recordRunning wrote.
	recorded := time.Now().UTC().Add(time.Millisecond)
	c.State.StartedAt = recorded
	noteExit(c, result{StartedAt: now}, nil)
	if !c.State.StartedAt.Equal(recorded) {
		t.Errorf("StartedAt of a run recorded running = %v, want %v", c.State.StartedAt, recorded)
	}
}
