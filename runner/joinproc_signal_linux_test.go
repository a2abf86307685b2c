package runner

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestExecSignalBeforeStart: strata told to end (^C, timeout(1)'s SIGTERM) while its helper
// has not answered ends it after earlySignalGrace and exits 128+n: a helper stuck before its
// answer (stopped here; a frozen cgroup or a hung FUSE mount in a privileged container) had
// strata wait for good, deaf to every signal but SIGKILL, which it kept for the command.
func TestExecSignalBeforeStart(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	helper := make(chan int, 1)
	joinStartedHook = func(pid int) {
		_ = unix.Kill(pid, unix.SIGSTOP)
		helper <- pid
	}
	defer func() { joinStartedHook = nil }()
	go func() {
		<-helper
		time.Sleep(200 * time.Millisecond) // Exec catches its signals by then
		_ = unix.Kill(os.Getpid(), unix.SIGTERM)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	code, err := Exec(ctx, c, ExecOptions{Args: []string{"true"}}, Stdio{})
	took := time.Since(start)
	var ec *ExitCodeError
	if code != 128+int(unix.SIGTERM) || !errors.As(err, &ec) || ec.Code != code || !strings.Contains(err.Error(), "before the command started") || took > 5*time.Second {
		t.Errorf("Exec with SIGTERM before its stopped helper answered = %d, %v after %v, want %d at once", code, err, took.Round(time.Millisecond), 128+int(unix.SIGTERM))
	}
	joinStartedHook = nil
	if code, _, _, err := execOut(t, c, ExecOptions{Args: []string{"true"}}); code != 0 || err != nil {
		t.Errorf("Exec after = %d, %v, want 0", code, err)
	}
}
