package runner

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// TestExecDetachThenExit: a detach of exec -it (its keys typed) stands when the container's
// PID 1 exits right after it: the command ran and the user left it, as docker exec says
// "read escape sequence" whatever the container does next. Exec took the error for a
// command that never started and asked whether PID 1 had exited, and said "not running".
func TestExecDetachThenExit(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	c := startedContainer(t, nil, "sleep", "1000")
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty here: %v", err)
	}
	defer user.Close()
	defer tty.Close()
	execJoinedHook = func(pid int) {
		// PID 1 exits as the detach comes back, before Exec looks at the result.
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			t.Errorf("pidfd of PID 1: %v", err)
			return
		}
		defer unix.Close(fd)
		if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
			t.Errorf("killing PID 1: %v", err)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 10000)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if n != 1 {
				t.Errorf("PID 1 did not exit within 10 s of SIGKILL: %v", err)
			}
			return
		}
	}
	defer func() { execJoinedHook = nil }()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(user)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, user)
	}()
	go func() {
		select {
		case <-ready:
			_, _ = io.WriteString(user, "\x18x")
		case <-time.After(30 * time.Second):
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, err := Exec(ctx, c, ExecOptions{Args: []string{"sh", "-c", "echo ready; sleep 1000"}, Terminal: true, Stdin: true,
		DetachKeys: []byte{0x18, 'x'}}, Stdio{Stdin: tty, Stdout: tty, Stderr: tty})
	if !errors.Is(err, ErrDetached) {
		t.Errorf("Exec -it detached, then its container's PID 1 exited = %d, %v; want ErrDetached", code, err)
	}
	checkTerminalLeftAlone(t, tty)
}

// checkTerminalLeftAlone checks that the user's terminal, once a detached Exec has returned,
// is its caller's: the wait for the command, which goes on behind the detach until the
// command ends (here, with its container), does not restore it again.
func checkTerminalLeftAlone(t *testing.T, tty *os.File) {
	t.Helper()
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ICANON != 0 {
			t.Fatalf("the user's terminal, made raw by its caller after Exec detached, was restored behind it (lflag %#x)", tio.Lflag)
		}
	}
}
