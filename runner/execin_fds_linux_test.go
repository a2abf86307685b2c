package runner

import (
	"os"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestExecKeepsNoFDs: a process that execs into a container again and again (the monitor that
// runs its health checks) holds no more fds after each than before. Exec released the
// cgroup's fd but not the hold cgroups.Load takes (an fd of its lock dir, flocked), one more
// for every exec: a monitor checking every 100ms had hundreds within a minute.
func TestExecKeepsNoFDs(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	if code, _, errOut, err := execOut(t, c, ExecOptions{Args: []string{"true"}}); code != 0 {
		t.Fatalf("Exec(true) = %d, %v; stderr: %s", code, err, errOut)
	}
	before := openFDs(t)
	for range 5 {
		if code, _, errOut, err := execOut(t, c, ExecOptions{Args: []string{"true"}}); code != 0 {
			t.Fatalf("Exec(true) = %d, %v; stderr: %s", code, err, errOut)
		}
	}
	if after := openFDs(t); after > before {
		t.Errorf("open fds after 5 execs = %d, want at most %d as before", after, before)
	}
}

// openFDs counts this process's open fds.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
