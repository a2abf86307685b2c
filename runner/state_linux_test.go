package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// TestStoreForeignPid: a running state whose Pid is not its monitor's child (a pid used
// again, or a state.json someone wrote) is not running, and kill sends that process nothing.
func TestStoreForeignPid(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: "forged"})
	if err != nil {
		t.Fatal(err)
	}
	// A grandchild: alive, but its parent is the shell, not this process (the "monitor").
	sh := exec.Command("sh", "-c", "sleep 30 & echo $!; wait")
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	var foreign int
	if _, err := fmt.Fscan(out, &foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Kill(foreign, unix.SIGKILL) // ours: started above
		_ = sh.Wait()
	})
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []State{
		{Status: StatusRunning, Pid: foreign, MonitorPid: os.Getpid(), MonitorStart: start},
		{Status: StatusRunning, Pid: foreign, MonitorPid: sh.Process.Pid}, // no start recorded
	} {
		c.State = st
		if err := c.saveState(); err != nil {
			t.Fatal(err)
		}
		if err := c.Reload(); err != nil {
			t.Fatal(err)
		}
		if c.State.Running() || c.State.Status != StatusExited {
			t.Errorf("%+v: reloaded as %+v, want exited", st, c.State)
		}
		c.State = st // as a state read before the check: Kill rereads and refuses it
		if err := Kill(c, unix.SIGTERM); !errors.Is(err, ErrNotRunning) {
			t.Errorf("%+v: Kill = %v, want ErrNotRunning", st, err)
		}
		if _, err := processStart(foreign); err != nil {
			t.Fatalf("%+v: the foreign process got the signal: %v", st, err)
		}
	}
}

// TestInspectExiting: a container whose PID 1 has exited while its monitor records the exit
// reads as running in inspect's Status and Running alike, as in ps.
func TestInspectExiting(t *testing.T) {
	_, c := exitingContainer(t, "exiting")
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := Inspect(c).State; st.Status != string(StatusRunning) || !st.Running {
		t.Errorf("inspect of an exiting container: Status %q Running %v, want running, true", st.Status, st.Running)
	}
}

// exitingContainer creates a container in a new store whose state says it runs, with this
// process as its monitor (which records nothing, and holds the container's cgroup as a
// monitor does until just before it records the exit) and a PID 1 that has exited.
func exitingContainer(t *testing.T, name string) (*Store, *Container) {
	t.Helper()
	testutil.Requires(t, testutil.Root)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(Config{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	cg, err := cgroups.New(c.ID, cgroups.Resources{})
	if err != nil {
		t.Skipf("skipping: creating a cgroup: %v", err)
	}
	t.Cleanup(func() { _ = cg.Delete(); _ = cg.Close() })
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	c.State = State{Status: StatusRunning, Pid: gone.Process.Pid, MonitorPid: os.Getpid(), MonitorStart: start}
	if err := c.saveState(); err != nil {
		t.Fatal(err)
	}
	return s, c
}
