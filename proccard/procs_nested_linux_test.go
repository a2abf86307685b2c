package proccard

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// startNested starts, in a fresh pid namespace, unshare(1) making a pid namespace nested in
// it that runs `sleep arg`, and returns the outer one once the sleep runs; both are killed
// (by pid) when the test ends.
func startNested(t *testing.T, arg string) (*exec.Cmd, int) {
	t.Helper()
	testutil.Requires(t, testutil.Root, testutil.Command("unshare"))
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "sleep", arg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if err != nil {
			continue
		}
		var child int
		if _, err := fmt.Sscan(string(b), &child); err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child)); err == nil && strings.Contains(string(b), arg) {
			return cmd, child
		}
	}
	t.Fatal("the nested sleep did not start")
	return nil, 0
}

// TestProcessesNestedPidNamespace: a process the container started in a pid namespace of its
// own (unshare -p, a container in the container) is still the container's, and top lists it
// with its PID in the container's namespace, as docker top lists the cgroup's; it was left
// out, so a process could hide from top. Another container's nested process is not listed.
func TestProcessesNestedPidNamespace(t *testing.T) {
	outer, nested := startNested(t, "1001")
	_, other := startNested(t, "1002")
	procs, err := Processes(outer.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]Process{}
	for _, p := range procs {
		got[p.Pid] = p
	}
	if p, ok := got[outer.Process.Pid]; !ok || p.ContainerPid != 1 {
		t.Errorf("Processes(%d) = %+v, want the outer unshare as pid 1", outer.Process.Pid, procs)
	}
	p, ok := got[nested]
	if !ok {
		t.Fatalf("Processes(%d) = %+v, want the nested sleep %d too", outer.Process.Pid, procs, nested)
	}
	if p.ContainerPid != 2 || len(p.NSpid) != 3 || p.NSpid[2] != 1 {
		t.Errorf("nested sleep: ContainerPid %d NSpid %v, want 2 and [%d 2 1]", p.ContainerPid, p.NSpid, nested)
	}
	if _, ok := got[other]; ok || len(procs) != 2 {
		t.Errorf("Processes(%d) = %+v, want only its own two", outer.Process.Pid, procs)
	}
}
