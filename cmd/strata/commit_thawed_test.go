package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner"
)

// TestCommitThawedMeanwhile: a container that commit paused and another command thawed while
// its layer was read (strata unpause, or rm -f and kill, which thaw a container to end it)
// is committed all the same, as docker's commit, which ignores its unpause's error. The
// commit failed with "container … is not paused" (exit 1), its layer read whole: an rm -f
// racing a commit turned it into an error the user could not act on.
func TestCommitThawedMeanwhile(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	root := loadedTestImages(t)
	const name = "commit-thawed"
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })
	if _, err := strata(t, root, nil, "run", "-d", "--name", name, "alpine", "sleep", "1000"); err != nil {
		t.Fatalf("run -d: %v", err)
	}
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	unpause, err := pauseForCommit(c, true)
	if err != nil {
		t.Fatalf("pausing for the commit: %v", err)
	}
	if !runner.Paused(c) {
		t.Fatal("the container is not paused for the commit")
	}
	// The other command's thaw, while the commit reads.
	if err := runner.Unpause(c); err != nil {
		t.Fatalf("unpause: %v", err)
	}
	if err := unpause(); err != nil {
		t.Errorf("the commit's unpause of a container thawed meanwhile = %v, want no error", err)
	}
	if err := c.Reload(); err != nil || !c.State.Running() || runner.Paused(c) {
		t.Errorf("after the commit: running %v, paused %v (%v); want running, not paused", c.State.Running(), runner.Paused(c), err)
	}
	// Removed meanwhile: still an error, naming no path.
	unpause, err = pauseForCommit(c, true)
	if err != nil {
		t.Fatalf("pausing for the commit: %v", err)
	}
	if _, err := strata(t, root, nil, "rm", "-f", name); err != nil {
		t.Fatalf("rm -f: %v", err)
	}
	if err := unpause(); err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("the commit's unpause of a container removed meanwhile = %v, want no such container", err)
	}
}
