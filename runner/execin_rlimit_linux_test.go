package runner

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestExecNonRootPid1: exec into a container whose PID 1 runs as another user than strata
// (-u nobody, or --init's reaper as nobody) works, with the PID 1's resource limits: reading
// them with prlimit(2) takes CAP_SYS_RESOURCE for another user's process, which root lacks on
// some hosts, and every such exec failed there with "operation not permitted".
func TestExecNonRootPid1(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, init := range []bool{false, true} {
		t.Run(fmt.Sprintf("init=%v", init), func(t *testing.T) {
			if init {
				// The reaper is the test binary, run inside the container.
				testutil.Requires(t, staticSelf)
			}
			c := startedContainer(t, func(s *Spec) { s.User = "nobody"; s.Init = init }, "sleep", "1000")
			// Once the PID 1 runs as nobody: before, the init is still root.
			for i := 0; i < 500 && !strings.HasPrefix(procStatusField(t, c.State.Pid, "Uid"), "65534\t"); i++ {
				time.Sleep(10 * time.Millisecond)
			}
			code, out, errOut, err := execOut(t, c, ExecOptions{Args: []string{"sh", "-c", "id -u; ulimit -n"}})
			uid, limit, _ := strings.Cut(out, "\n")
			if code != 0 || err != nil || uid != "65534" || limit == "" {
				t.Errorf("Exec = %d, %v, printed %q (stderr %q), want 0, uid 65534 and a limit", code, err, out, errOut)
			}
		})
	}
}

// TestProcLimits: the limits read from /proc/<pid>/limits are those prlimit(2) reads, for a
// process with a few set apart (and "unlimited" ones).
func TestProcLimits(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 123, Max: 456}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := procLimits(pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != unix.RLIMIT_RTTIME+1 {
		t.Fatalf("procLimits = %d limits, want %d", len(got), unix.RLIMIT_RTTIME+1)
	}
	for _, l := range got {
		var want unix.Rlimit
		if err := unix.Prlimit(pid, l.Resource, nil, &want); err != nil {
			t.Fatal(err)
		}
		if l.Cur != want.Cur || l.Max != want.Max {
			t.Errorf("limit %d: procLimits %d/%d, prlimit %d/%d", l.Resource, l.Cur, l.Max, want.Cur, want.Max)
		}
	}
	if l := got[unix.RLIMIT_NOFILE]; l.Cur != 123 || l.Max != 456 {
		t.Errorf("procLimits: nofile %d/%d, want 123/456", l.Cur, l.Max)
	}
}
