package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
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

// stopKillerGoFD is a restart's killer's read end of a pipe (ExtraFiles[1]) whose end tells
// it the restart mark names it: Restart writes that after spawning it, and the killer starts
// nothing before (a mark rewritten after its start would name it for nothing).
const stopKillerGoFD = 4

// maxStopDeadline is the longest stop timeout a killer is left for: a longer one (-t -1,
// forever) leaves none, but for a restart, whose killer waits for the exit without a
// deadline to start the container again.
const maxStopDeadline = 100 * 365 * 24 * time.Hour

// stopKillerJob is what spawnStopKiller hands its killer, as JSON in its argv[1].
type stopKillerJob struct {
	// Deadline is when to SIGKILL (Unix nanoseconds); 0 never kills (a restart's -t -1).
	Deadline int64 `json:"deadline"`
	// Root and Kill: the root whose event log gets Kill, the kill event, if it kills.
	Root string          `json:"root,omitempty"`
	Kill *events.Message `json:"kill,omitempty"`
	// Restart, for an interrupted restart: the container to start again once it exited.
	Restart *killerRestart `json:"restart,omitempty"`
}

// killerRestart is the container an interrupted restart's killer starts again: its dir, its
// store's layer dir (Store.SetLayerDir) and the start time of the run the restart stopped,
// which alone it starts again after (a container started by hand since is left as it is).
type killerRestart struct {
	Dir       string    `json:"dir"`
	Layers    string    `json:"layers,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// stopping counts this process's stops (and restarts) between the moment they may send a
// container its stop signal and their return, by when an interrupted one has left its killer
// (spawnStopKiller) and a restart's mark names it; idle is closed while there are none.
var stopping struct {
	sync.Mutex
	n    int
	idle chan struct{}
}

// StopsSettled returns a channel closed once no stop or restart of this process is under
// way between signalling its container and leaving, if interrupted, the killer that finishes
// it. strata's root waits for it after the first SIGINT or SIGTERM, which ends the command's
// context, before it lets the next one end strata (the signal's default action): a Ctrl-C
// pressed twice, the second a moment after the first, killed the stop or restart before it
// had left its killer, and the container stayed up on the stop signal it ignored, neither
// killed at the timeout nor started again. The wait is short: an interrupted stop's wait
// ends with its context, and the killer is one fork and exec.
func StopsSettled() <-chan struct{} {
	stopping.Lock()
	defer stopping.Unlock()
	if stopping.n == 0 {
		done := make(chan struct{})
		close(done)
		return done
	}
	return stopping.idle
}

// enterStop counts a stop under way for StopsSettled until the function it returns is called
// (once).
func enterStop() (leave func()) {
	stopping.Lock()
	if stopping.n == 0 {
		stopping.idle = make(chan struct{})
	}
	stopping.n++
	stopping.Unlock()
	return func() {
		stopping.Lock()
		defer stopping.Unlock()
		if stopping.n--; stopping.n == 0 {
			close(stopping.idle)
		}
	}
}

// spawnStopKiller starts, in a session of its own, a process that SIGKILLs the process of
// pidfd (the container's PID 1, which a stop has sent its stop signal) at deadline unless it
// has exited by then: the stop's own SIGKILL, which an interrupted stop (Ctrl-C, SIGTERM)
// never sent, where docker's daemon finishes a stop whatever its client does. Through the
// pidfd, it can signal no other process, whatever pid the container's had: a container
// started again meanwhile is another process, and is spared.
//
// When it kills, it logs the kill event (signal 9) of c, as the stop it finishes would have
// (Kill) and as docker's daemon does; the die event is the monitor's, as for any exit.
//
// For a restart (restart true), it also finishes the restart, as docker's daemon does when
// its CLI goes away: once the process has exited (killed, or by itself) and its exit is
// recorded, it starts c again, unless c was started since (restartAfterStop). A zero
// deadline never kills. It returns the killer's pid and, for a restart, a function to call
// once the restart mark names the killer (or it will not), which lets the killer go on.
func spawnStopKiller(c *Container, pidfd int, deadline time.Time, restart bool) (pid int, proceed func(), err error) {
	testStop(stopInterrupted)
	job := stopKillerJob{}
	if !deadline.IsZero() {
		job.Deadline = deadline.UnixNano()
	}
	if root, m, ok := eventMessage(c, "kill", map[string]string{"signal": strconv.Itoa(int(unix.SIGKILL))}); ok {
		job.Root, job.Kill = root, &m
	}
	if restart {
		job.Restart = &killerRestart{Dir: c.Dir, Layers: c.layers, StartedAt: c.State.StartedAt}
	}
	b, err := json.Marshal(job)
	if err != nil {
		return 0, nil, err
	}
	exe, release, err := sealedExe()
	if err != nil {
		return 0, nil, err
	}
	defer release()
	fd, err := unix.Dup(pidfd)
	if err != nil {
		return 0, nil, err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	extra := []*os.File{f}
	proceed = func() {}
	if restart {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, nil, err
		}
		defer r.Close()
		extra, proceed = append(extra, r), func() { w.Close() }
		defer func() {
			if err != nil {
				w.Close()
			}
		}()
	}
	env := []string{"GOGC=25", oneP}
	if stop := os.Getenv(TestStopEnv); stop != "" {
		env = append(env, TestStopEnv+"="+stop) // tests only: see stopKillerExited
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{stopKillerMarker, string(b)},
		Env:         env,
		Dir:         "/", // pin no mount
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	release()
	dropSealedExe()
	if err != nil {
		return 0, nil, err
	}
	go func() { _ = cmd.Wait() }() // reaped here if this process outlives it (tests)
	return cmd.Process.Pid, proceed, nil
}

// runStopKiller is the process spawnStopKiller starts; it never returns.
func runStopKiller() {
	nameProcess(stopKillerMarker)
	// Its fds go to no monitor a restart's start spawns.
	unix.CloseOnExec(stopKillerFD)
	unix.CloseOnExec(stopKillerGoFD)
	var job stopKillerJob
	if len(os.Args) != 2 || json.Unmarshal([]byte(os.Args[1]), &job) != nil {
		os.Exit(ExitOwnError)
	}
	var deadline time.Time
	if job.Deadline != 0 {
		deadline = time.Unix(0, job.Deadline)
	}
	if killAtDeadline(stopKillerFD, deadline) && job.Kill != nil {
		logStopKill(job.Root, *job.Kill)
	}
	if job.Restart != nil {
		// Killed, or exited by itself: the pidfd reads as exited once the process has.
		if waitPidfd(context.Background(), stopKillerFD) != nil {
			os.Exit(ExitOwnError)
		}
		// The restart mark names this process once the pipe ends (or the restart died).
		goPipe := os.NewFile(stopKillerGoFD, "go")
		_, _ = io.Copy(io.Discard, goPipe)
		goPipe.Close()
		testStop(stopKillerExited)
		if restartAfterStop(*job.Restart) != nil {
			os.Exit(ExitOwnError)
		}
	}
	os.Exit(0)
}

// logStopKill appends to root's log the kill event spawnStopKiller made, stamped now.
func logStopKill(root string, m events.Message) {
	now := time.Now()
	m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	events.Append(root, m)
}

// killAtDeadline SIGKILLs the process of pidfd at deadline unless it has exited by then, and
// says whether it did. A zero deadline waits for its exit and never kills.
func killAtDeadline(pidfd int, deadline time.Time) bool {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		wait := time.Hour
		if !deadline.IsZero() {
			wait = time.Until(deadline)
		}
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

// restartAfterStop is the start of an interrupted restart (Restart) its killer makes once the
// process it stopped has exited: it waits for the monitor to record that exit, then starts
// the container again, detached, and logs docker's restart event. A container started since
// by anyone else (its run's start time is not the stopped one's), removed (rm -f) or not to
// be read is left as it is. The restart mark names the killer (Restart wrote it), so that the
// monitor of a --rm container keeps it on that exit; the new run's monitor removes it, or, if
// the killer starts nothing, the killer does.
func restartAfterStop(r killerRestart) (err error) {
	s := &Store{dir: filepath.Dir(r.Dir), layers: r.Layers}
	c, err := s.load(filepath.Base(r.Dir))
	if err != nil {
		return err
	}
	mark := filepath.Join(r.Dir, restartingFile)
	defer func() {
		if err != nil || !c.State.Running() {
			removeOwnRestartMark(mark)
		}
	}()
	ctx := context.Background()
	for c.State.Status == StatusRunning && c.State.StartedAt.Equal(r.StartedAt) {
		// Exited, as its pidfd says: its monitor has yet to record it.
		if _, err := waitRecorded(ctx, c); err != nil {
			return err
		}
		if err := c.Reload(); err != nil {
			return err
		}
	}
	if c.Broken != nil || !c.State.StartedAt.Equal(r.StartedAt) || c.State.Status != StatusExited {
		return nil // started since, by hand or another restart: not started twice
	}
	if err := WaitOtherStart(ctx, c); err != nil {
		return err
	}
	if !c.State.StartedAt.Equal(r.StartedAt) || c.State.Status != StatusExited {
		return nil
	}
	if err := Start(ctx, c); err != nil {
		return err
	}
	Event(c, "restart", nil) // docker's daemon logs it as its restart ends
	return nil
}

// removeOwnRestartMark removes the restart mark at mark if it names this process.
func removeOwnRestartMark(mark string) {
	b, err := readSmallFile(mark, 64)
	if err != nil {
		return
	}
	var pid int
	var start uint64
	if n, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err == nil && n == 2 && pid == os.Getpid() {
		_ = os.Remove(mark)
	}
}
