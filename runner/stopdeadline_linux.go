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

// stopKillerMarker is the argv[0] of the process a stop leaves beside it, before it sends its
// container the stop signal, to SIGKILL the container at the stop's deadline should the stop
// not do it itself (spawnStopKiller).
const stopKillerMarker = "strata-stop-killer"

// stopKillerFD is the killer's pidfd of the container's PID 1 (ExtraFiles[0]).
const stopKillerFD = 3

// stopKillerCtlFD is the killer's read end of a pipe (ExtraFiles[1]) whose write end only the
// stop that spawned it holds: its end (EOF) says the stop is gone, by its return (Ctrl-C) or
// its death (SIGKILL, a crash), and the killer is on its own. Until then the killer is a
// backup, and a restart's starts nothing (the restart starts the container itself).
const stopKillerCtlFD = 4

// stopKillerLag is how long after the deadline a killer whose stop lives still waits before
// it kills: the stop kills the container at the deadline itself, and the killer, which sees
// that exit, sends no second SIGKILL (and logs no second kill event). A stop that is stopped
// (Ctrl-Z, SIGSTOP) gets its container killed that late all the same.
const stopKillerLag = time.Second

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
	// Dir is the container's dir, whose cgroup a kill of a paused container thaws
	// (resumeSignalled), as docker's kill resumes it.
	Dir string `json:"dir,omitempty"`
	// Restart, for a restart: the container to start again once it exited, should the
	// restart be gone by then.
	Restart *killerRestart `json:"restart,omitempty"`
}

// killerRestart is the container a restart's killer starts again (the restart gone): its
// dir, its store's layer dir (Store.SetLayerDir) and the start time of the run the restart
// stopped, which alone it starts again after (a container started by hand since is left as
// it is).
type killerRestart struct {
	Dir       string    `json:"dir"`
	Layers    string    `json:"layers,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// stopping counts this process's stops (and restarts) between the moment they may send a
// container its stop signal and their return, by when an interrupted one has left its killer
// (spawnStopKiller); idle is closed while there are none.
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
// killed at the timeout nor started again. The killer is now spawned before the signal, and
// finishes a stop killed anywhere; the wait still lets an interrupted stop return as it
// should (exit 130, quietly). It is short: an interrupted stop's wait ends with its context.
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

// stopKiller is a killer spawnStopKiller started: the stop that holds it dismisses it once
// it has no more use for it, or leaves it to finish the stop.
type stopKiller struct {
	proc *os.Process
	ctl  *os.File // the write end of the killer's control pipe (stopKillerCtlFD)
}

// spawnStopKiller starts, in a session of its own, a process that SIGKILLs the process of
// pidfd (the container's PID 1, which a stop is about to send its stop signal) at deadline
// unless it has exited by then. A stop spawns it before it signals: a stop that is gone by
// the deadline (interrupted by Ctrl-C, SIGTERM or SIGHUP, or killed: SIGKILL, a crash, the
// OOM killer) never sends its own SIGKILL, where docker's daemon finishes a stop whatever its
// client does (its containerStop runs under context.WithoutCancel). Left after the signal, a
// stop SIGKILLed in between left nothing, and the container, which ignored its stop signal,
// ran on for ever. Through the pidfd, it can signal no other process, whatever pid the
// container's had: a container started again meanwhile is another process, and is spared.
// It ends as soon as that process has exited, so a stop of a container that exits on its
// stop signal leaves nothing behind.
//
// While the stop lives (the control pipe is open, stopKillerCtlFD), the killer waits
// stopKillerLag past the deadline: the stop kills at the deadline itself, the killer sees
// the exit and kills nothing. Once the stop is gone, it kills at the deadline, or at once if
// that is past.
//
// When it kills, it logs the kill event (signal 9) of c, as the stop it finishes would have
// (Kill) and as docker's daemon does; the die event is the monitor's, as for any exit.
//
// For a restart (restart true), it also finishes the restart, as docker's daemon does when
// its CLI goes away: once the process has exited (killed, or by itself), the restart is gone
// (the control pipe ended) and the exit is recorded, it starts c again, unless c was started
// since (restartAfterStop). A zero deadline never kills.
func spawnStopKiller(c *Container, pidfd int, deadline time.Time, restart bool) (k *stopKiller, err error) {
	job := stopKillerJob{Dir: c.Dir}
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
		return nil, err
	}
	exe, release, err := sealedExe()
	if err != nil {
		return nil, err
	}
	defer release()
	fd, err := unix.Dup(pidfd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	env := []string{"GOGC=25", oneP}
	if stop := os.Getenv(TestStopEnv); stop != "" {
		env = append(env, TestStopEnv+"="+stop) // tests only: see stopKillerExited
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{stopKillerMarker, string(b)},
		Env:         env,
		Dir:         "/", // pin no mount
		ExtraFiles:  []*os.File{f, r},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	release()
	dropSealedExe()
	if err != nil {
		w.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait() }() // reaped here if this process outlives it (tests)
	return &stopKiller{proc: cmd.Process, ctl: w}, nil
}

// pid is the killer's process ID.
func (k *stopKiller) pid() int { return k.proc.Pid }

// dismiss ends the killer: the stop has no more use for it (the container exited, or the
// stop killed it itself, or never signalled it). SIGKILL, then the end of the control pipe,
// which it can no longer read: a restart's killer starts nothing. Through the process's
// pidfd (os.Process keeps one), so no other process with its pid can get the signal.
func (k *stopKiller) dismiss() {
	if k == nil {
		return
	}
	_ = k.proc.Kill()
	k.ctl.Close()
}

// leave lets the killer finish the stop (and a restart's start) on its own: the end of its
// control pipe tells it the stop is gone, as the stop's death would.
func (k *stopKiller) leave() {
	if k == nil {
		return
	}
	k.ctl.Close()
}

// runStopKiller is the process spawnStopKiller starts; it never returns.
func runStopKiller() {
	nameProcess(stopKillerMarker)
	// Its fds go to no monitor a restart's start spawns.
	unix.CloseOnExec(stopKillerFD)
	unix.CloseOnExec(stopKillerCtlFD)
	var job stopKillerJob
	if len(os.Args) != 2 || json.Unmarshal([]byte(os.Args[1]), &job) != nil {
		os.Exit(ExitOwnError)
	}
	var deadline time.Time
	if job.Deadline != 0 {
		deadline = time.Unix(0, job.Deadline)
	}
	killed, stopGone := killAtDeadline(stopKillerFD, stopKillerCtlFD, deadline)
	if killed {
		resumeKilled(job.Dir)
		if job.Kill != nil {
			logStopKill(job.Root, *job.Kill)
		}
	}
	if job.Restart != nil {
		// Killed, or exited by itself: the pidfd reads as exited once the process has.
		if waitPidfd(context.Background(), stopKillerFD) != nil {
			os.Exit(ExitOwnError)
		}
		// A restart that lives starts the container itself, and dismisses this process.
		if !stopGone {
			ctl := os.NewFile(stopKillerCtlFD, "ctl")
			_, _ = io.Copy(io.Discard, ctl)
			ctl.Close()
		}
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
// says whether it did. While ctl, the read end of a stop's control pipe (-1: none), is open,
// the deadline is stopKillerLag later (see spawnStopKiller); gone says whether it ended. A
// zero deadline waits for the exit and never kills.
func killAtDeadline(pidfd, ctl int, deadline time.Time) (killed, gone bool) {
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	if ctl >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(ctl), Events: unix.POLLIN})
	} else {
		gone = true
	}
	for {
		wait := time.Hour
		if !deadline.IsZero() {
			due := deadline
			if !gone {
				due = due.Add(stopKillerLag)
			}
			wait = time.Until(due)
		}
		if wait <= 0 {
			break
		}
		n, err := unix.Poll(fds, int(min(wait, time.Hour)/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || fds[0].Revents != 0 {
			return false, gone // exited (or no pidfd to wait on: nothing to kill through it)
		}
		if n > 0 && len(fds) > 1 && fds[1].Revents != 0 {
			// The stop writes nothing: readable is its end.
			var b [64]byte
			if m, err := unix.Read(ctl, b[:]); m <= 0 && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) {
				gone, fds = true, fds[:1]
			}
		}
	}
	return unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0) == nil, gone
}

// resumeKilled resumes the container in dir, if it is paused, once the killer has SIGKILLed
// it (resumeSignalled): a container paused during the stop's timeout would not die of it on
// the v1 freezer until someone unpaused it, and docker's SIGKILL resumes it.
func resumeKilled(dir string) {
	if dir == "" {
		return
	}
	s := &Store{dir: filepath.Dir(dir)}
	if c, err := s.load(filepath.Base(dir)); err == nil {
		resumeSignalled(c, nil, unix.SIGKILL)
	}
}

// restartAfterStop is the start of a restart (Restart) gone (interrupted, killed) that its
// killer makes once the process it stopped has exited: it waits for the monitor to record that exit, then starts
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
		if _, err := waitRecorded(ctx, c, -1); err != nil {
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
