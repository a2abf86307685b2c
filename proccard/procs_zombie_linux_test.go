package proccard

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestProcessesZombie: a child the container's PID 1 does not reap is listed with the
// kernel's state Z, for top to say <defunct> as ps does.
func TestProcessesZombie(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Command("sh"))
	cmd := exec.Command("sh", "-c", "true & exec sleep 1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	var procs []Process
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if procs, err = Processes(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		// The child can be a zombie before sh has exec'd the sleep (still sh, running).
		if len(procs) == 2 && procs[1].State == "Z" && procs[0].Comm == "sleep" && procs[0].State == "S" {
			break
		}
	}
	if len(procs) != 2 || procs[0].State != "S" || procs[1].State != "Z" || len(procs[1].Command) != 0 {
		t.Errorf("Processes(%d) = %+v, want the sleep (S) and its unreaped child (Z, no command line)", cmd.Process.Pid, procs)
	}
}
