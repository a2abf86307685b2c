package proccard

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// reusePid ends cmd and starts a host process with its pid, steering the kernel's next pid
// with ns_last_pid; other processes forking meanwhile can take it, so it retries a while,
// and skips the test if it never lands.
func reusePid(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	pid := cmd.Process.Pid
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for range 200 {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("cannot steer pids: %v", err)
		}
		host := exec.Command("sleep", "1000")
		host.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
		if err := host.Start(); err != nil {
			t.Fatal(err)
		}
		if host.Process.Pid == pid {
			t.Cleanup(func() {
				_ = host.Process.Kill()
				_ = host.Wait()
			})
			return host
		}
		_ = host.Process.Kill()
		_ = host.Wait()
	}
	t.Skip("could not have pid reused")
	return nil
}

// TestProcessesOfReusedPid: the container's PID 1 exits after it was checked to be the
// container's and a host process takes its pid: ProcessesOf says it is gone. top checked the
// pid first and listed it after, so it listed that process's pid namespace, the host's, as
// the container's processes.
func TestProcessesOfReusedPid(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	init := startIsolated(t)
	pid := init.Process.Pid
	procs, err := ProcessesOf(pid, func() bool {
		reusePid(t, init) // the PID 1 exits right after the check, and its pid is taken
		return true
	})
	if !errors.Is(err, ErrNoProcess) {
		t.Errorf("ProcessesOf(%d) with the pid reused by a host process = %d processes, %v, want ErrNoProcess", pid, len(procs), err)
	}

	other := startIsolated(t)
	procs, err = ProcessesOf(other.Process.Pid, func() bool { return true })
	if err != nil || len(procs) != 1 || procs[0].Pid != other.Process.Pid {
		t.Errorf("ProcessesOf(%d) = %+v, %v, want the one process", other.Process.Pid, procs, err)
	}
	if _, err := ProcessesOf(other.Process.Pid, func() bool { return false }); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ProcessesOf(%d) of a process owns refuses = %v, want ErrNoProcess", other.Process.Pid, err)
	}
}

// TestReadOfReusedPid: as TestProcessesOfReusedPid for the process card that inspect and
// explain print: read after the PID 1 exited and a host process took its pid, it described
// that host process (its namespaces, the host's) as the container.
func TestReadOfReusedPid(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	init := startIsolated(t)
	pid := init.Process.Pid
	card, err := ReadOf(pid, func() bool {
		reusePid(t, init)
		return true
	}, Options{})
	if !errors.Is(err, ErrNoProcess) {
		t.Errorf("ReadOf(%d) with the pid reused by a host process = %+v, %v, want ErrNoProcess", pid, card, err)
	}

	other := startIsolated(t)
	card, err = ReadOf(other.Process.Pid, func() bool { return true }, Options{})
	if err != nil || card.Pid != other.Process.Pid {
		t.Errorf("ReadOf(%d) = %+v, %v, want its card", other.Process.Pid, card, err)
	}
	if _, err := ReadOf(other.Process.Pid, func() bool { return false }, Options{}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ReadOf(%d) of a process owns refuses = %v, want ErrNoProcess", other.Process.Pid, err)
	}
}
