package runner

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/strata-run/strata/internal/events"
	"golang.org/x/sys/unix"
)

// stopKillerMarker is the argv[0] of the process a stop interrupted while it waited for the
// container to exit leaves behind to SIGKILL it at the stop's deadline (spawnStopKiller).
const stopKillerMarker = "strata-stop-killer"

// stopKillerFD is the killer's pidfd of the container's PID 1 (ExtraFiles[0]).
const stopKillerFD = 3

// maxStopDeadline is the longest stop timeout a killer is left for: a longer one (-t -1,
// forever) leaves none.
const maxStopDeadline = 100 * 365 * 24 * time.Hour

// spawnStopKiller starts, in a session of its own, a process that SIGKILLs the process of
// pidfd (the container's PID 1, which a stop has sent its stop signal) at deadline unless it
// has exited by then: the stop's own SIGKILL, which an interrupted stop (Ctrl-C, SIGTERM)
// never sent, where docker's daemon finishes a stop whatever its client does. Through the
// pidfd, it can signal no other process, whatever pid the container's had: a container
// started again meanwhile is another process, and is spared.
//
// When it kills, it logs the kill event (signal 9) of c, as the stop it finishes would have
// (Kill) and as docker's daemon does; the die event is the monitor's, as for any exit.
func spawnStopKiller(c *Container, pidfd int, deadline time.Time) error {
	args := []string{stopKillerMarker, strconv.FormatInt(deadline.UnixNano(), 10)}
	if root, m, ok := eventMessage(c, "kill", map[string]string{"signal": strconv.Itoa(int(unix.SIGKILL))}); ok {
		if b, err := json.Marshal(m); err == nil {
			args = append(args, root, string(b))
		}
	}
	exe, release, err := sealedExe()
	if err != nil {
		return err
	}
	defer release()
	fd, err := unix.Dup(pidfd)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        args,
		Env:         []string{"GOGC=25"},
		Dir:         "/", // pin no mount
		ExtraFiles:  []*os.File{f},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	release()
	dropSealedExe()
	if err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // reaped here if this process outlives it (tests)
	return nil
}

// runStopKiller is the process spawnStopKiller starts; it never returns.
func runStopKiller() {
	nameProcess(stopKillerMarker)
	if len(os.Args) != 2 && len(os.Args) != 4 {
		os.Exit(ExitOwnError)
	}
	ns, err := strconv.ParseInt(os.Args[1], 10, 64)
	if err != nil {
		os.Exit(ExitOwnError)
	}
	if killAtDeadline(stopKillerFD, time.Unix(0, ns)) && len(os.Args) == 4 {
		logStopKill(os.Args[2], os.Args[3])
	}
	os.Exit(0)
}

// logStopKill appends to root's log the kill event spawnStopKiller made (JSON), stamped now.
func logStopKill(root, event string) {
	var m events.Message
	if json.Unmarshal([]byte(event), &m) != nil {
		return
	}
	now := time.Now()
	m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	events.Append(root, m)
}

// killAtDeadline SIGKILLs the process of pidfd at deadline unless it has exited by then, and
// says whether it did.
func killAtDeadline(pidfd int, deadline time.Time) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		n, err := unix.Poll(fds, int(min(wait, time.Hour)/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n > 0 {
			return false // exited (or no pidfd to wait on: nothing to kill through it)
		}
	}
	return unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0) == nil
}
