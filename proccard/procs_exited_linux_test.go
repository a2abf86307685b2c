package proccard

import (
	"errors"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadOfExitedDuringRead: a read that fails because the process exited meanwhile (its
// cgroup removed: ENODEV) says ErrNoProcess, as a read that succeeded does: the read's own
// error came out, and inspect of a container being restarted failed with it.
func TestReadOfExitedDuringRead(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pid := cmd.Process.Pid
	err := whileHeld(pid, func() bool { return true }, func() error {
		_ = cmd.Process.Kill()
		// Exited (a zombie, not yet reaped): its pidfd polls readable.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			var st unix.Siginfo
			if unix.Waitid(unix.P_PID, pid, &st, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil) == nil && st.Signo != 0 {
				break
			}
		}
		return unix.ENODEV
	})
	if !errors.Is(err, ErrNoProcess) {
		t.Errorf("whileHeld with the process exiting during a read that failed = %v, want ErrNoProcess", err)
	}
}
