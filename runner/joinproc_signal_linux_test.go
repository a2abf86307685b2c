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
		<-helper // Exec catches its signals by then
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

// TestExecCanceledAsAnswered: an exec whose ctx ends just as its helper answers (the command
// runs) ends the command as a later end does, and says how it ended: it returned ctx's error
// and left the command running in the container without its helper.
func TestExecCanceledAsAnswered(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	joinAnsweredHook = cancel
	defer func() { joinAnsweredHook = nil }()
	code, err := Exec(ctx, c, ExecOptions{Args: []string{"sleep", "3333"}}, Stdio{})
	joinAnsweredHook = nil
	if err != nil || code != 128+int(unix.SIGKILL) {
		t.Errorf("Exec canceled as its helper answered = %d, %v; want %d, nil", code, err, 128+int(unix.SIGKILL))
	}
	// The command is gone from the container (sleep 1000 is its PID 1).
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, out, _, err := execOut(t, c, ExecOptions{Args: []string{"ps", "-o", "args"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "sleep 3333") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canceled exec's command still runs in the container:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
