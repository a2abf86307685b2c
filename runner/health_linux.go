package runner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// startHealth starts the health checks of c, which has just started running (at started),
// when its healthcheck has a test to run, and returns the checker to stop once the container
// has exited; nil (nothing started, no goroutine, no timer) without one. Its first record,
// starting, is written before it returns. The caller is c's monitor; the checks read a copy
// of c, taken now, and never touch c itself.
//
// trim says this process is a detached monitor, which gives back the memory a check took
// when it has a second or more to wait for the next (the foreground strata run does not).
func startHealth(c *Container, started time.Time, trim bool) *healthChecker {
	hc := healthFor(c, started, trim)
	if hc != nil {
		hc.start()
	}
	return hc
}

// healthFor is the checker startHealth starts, not started yet; nil without a test to run.
func healthFor(c *Container, started time.Time, trim bool) *healthChecker {
	cfg := c.Config.Healthcheck
	if !cfg.Runs() {
		return nil
	}
	snapshot := *c
	var prev Health
	if h, err := readHealthFile(c.Dir); err == nil {
		prev = *h // the last run's log, which docker keeps
	}
	// named is c as its events name it: under the name and labels it has now, a rename since
	// the start being the event's.
	named := func() *Container {
		ev := snapshot
		var now Config
		if err := readJSON(filepath.Join(c.Dir, configFile), &now); err == nil && validName(now.Name) {
			ev.Config.Name, ev.Config.Labels = now.Name, now.Labels
		}
		return &ev
	}
	args := healthArgs(cfg.Test)
	hc := newHealthChecker(cfg, started, prev, func(ctx context.Context, timeout time.Duration, out *limitedBuffer) (int, error) {
		if len(args) == 0 {
			return -1, errors.New("healthcheck: no command to run")
		}
		target := snapshot // each check reloads the state of its own copy
		return execCheck(ctx, &target, args, timeout, out, func() func(int, error) {
			ev := named()
			ev.State = target.State // as the exec reloaded it: running
			return ExecEvents(ev, args)
		})
	})
	name := filepath.Join(c.Dir, healthFile)
	hc.save = func(h Health) { _ = writeJSON(name, h, false) }
	hc.recorded = func() (string, bool) {
		h, err := readHealthFile(c.Dir)
		if err != nil {
			return "", false
		}
		return h.Status, true
	}
	hc.event = func(status string) { Event(named(), "health_status: "+status, nil) }
	// docker runs no checks while the container is paused; exec refuses a frozen cgroup.
	hc.skip = func(err error) bool { return errors.Is(err, ErrPaused) || errors.Is(err, errCheckOutlived) }
	// A pause while a check runs: Pause freezes the cgroup, then writes health.json
	// (markHealthPaused), a new file renamed over it, which nothing else but this checker
	// writes, and none of its writes comes during a check (a stop's drops the check anyway).
	// Pause then wakes the checker through the dir's wake FIFO (healthWakeFile), which kills the check as
	// docker's pause does (with the cgroup2 freezer it dies frozen; the v1 freezer holds the
	// SIGKILL until the unpause, where it dies before it runs on). The cgroup still frozen at
	// the check's end is a check that ended within the pause, maybe before Pause's write.
	// An unpause touches health.json (markHealthUnpaused) and wakes the FIFO, which tells the
	// loop, whose schedule starts again then.
	key := c.CgroupKey()
	unpaused := make(chan struct{}, 1)
	var w *healthWatch // made as the checks start (or, failing that, at a check), closed once they stop
	watch := func(ctx context.Context) *healthWatch {
		if w == nil {
			// The wake FIFO, else an inotify watch of the dir, which a pause or unpause of an
			// older strata wakes too (they write health.json alike).
			if nw, err := newHealthWake(ctx, c.Dir, unpaused); err == nil {
				w = nw
			} else if nw, err := newHealthWatch(ctx, c.Dir, unpaused); err == nil {
				w = nw
			}
		}
		return w
	}
	hc.watchUnpause = func(ctx context.Context) <-chan struct{} {
		watch(ctx)
		return unpaused
	}
	hc.watchPause = func(ctx context.Context, cut func()) (func() bool, func()) {
		w := watch(ctx)
		if w == nil {
			return func() bool { return false }, func() {}
		}
		before, berr := os.Stat(name) // after the watch: a write after it wakes the watch
		paused := func() bool {
			if cgroups.IsFrozen(key) {
				return true
			}
			// A pause's write replaced the file; an unpause's touch keeps it.
			after, aerr := os.Stat(name)
			return berr == nil && aerr == nil && !os.SameFile(before, after)
		}
		// A pause wakes it (and one since the last check, or with the inotify watch any
		// file renamed in): paused() tells.
		w.during(func() {
			if paused() {
				cut()
			}
		})
		return paused, func() { w.during(nil) }
	}
	if trim {
		hc.idle = func() {
			debug.FreeOSMemory()
			pageOutExecutable()
		}
	}
	return hc
}

// healthArgs is the command a test runs: CMD's arguments as they are, CMD-SHELL's command
// through /bin/sh -c, as docker's daemon runs them on Linux.
func healthArgs(test []string) []string {
	if len(test) == 0 {
		return nil
	}
	switch test[0] {
	case "CMD":
		return test[1:]
	case "CMD-SHELL":
		return append([]string{"/bin/sh", "-c"}, test[1:]...)
	}
	return nil
}

// execCheck runs args in c as Exec does, with its namespaces, cgroup, user, working
// directory, environment and confinement, its output to out; the process and its process
// group are killed when ctx ends, or timeout after the process started (errHealthTimeout). It
// neither catches nor passes on the signals this process gets: a check is no user's command.
//
// A check the container's end cut short (its pid namespace killed it) is errCheckOutlived:
// it says nothing of the container's health.
//
// logExec, when not nil, logs the check's events, as docker's daemon logs those of the exec
// it runs each check as: once the check has reached the container, its exec_create and
// exec_start (logExec's call), then the exec_die that the function it returns logs when the
// command has ended (ExecEvents), one killed at its timeout or by a pause (ctx's end) too
// (137, as docker's SIGKILL leaves it). A check refused before it reached the container, paused or gone, logs none:
// docker runs no check then.
func execCheck(ctx context.Context, c *Container, args []string, timeout time.Duration, out io.Writer, logExec func() func(code int, err error)) (int, error) {
	check := &joinCheck{timeout: timeout}
	var died func(int, error)
	if logExec != nil {
		check.reached = func() { died = logExec() }
	}
	code, err := execIn(ctx, c, ExecOptions{Args: args, check: check}, Stdio{Stdout: out, Stderr: out})
	if died != nil {
		dieErr := err
		if errors.Is(err, errHealthTimeout) {
			dieErr = nil // it ran, and ended of the kill: code is its status
		}
		died(code, dieErr)
	}
	// c's state was reloaded by the exec: its Pid is the PID 1 the check ran beside, which
	// its monitor (this process) has not reaped yet if it has exited.
	if pid := c.State.Pid; pid > 0 && (errors.Is(err, ErrNotRunning) || pidExiting(pid)) {
		return -1, errCheckOutlived
	}
	if err != nil {
		return -1, err
	}
	return code, nil
}

// errCheckOutlived is a check that ended with its container, or ran into its end.
var errCheckOutlived = errors.New("the container exited during the check")

// pidExiting reports whether process pid has exited or is exiting: gone, a zombie, or marked
// PF_EXITING (set from the start of its exit, while it waits for the rest of its pid namespace
// to die).
func pidExiting(pid int) bool {
	b, err := readProcStat(pid)
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(b[i+1:]) // state is f[0] (field 3), flags f[6] (field 9)
	if len(f) < 7 {
		return false
	}
	if string(f[0]) == "Z" || string(f[0]) == "X" {
		return true
	}
	const pfExiting = 0x4
	flags, err := strconv.ParseUint(string(f[6]), 10, 64)
	return err == nil && flags&pfExiting != 0
}

// markHealthPaused records c, just paused, as unhealthy in its health.json, as docker's pause
// leaves it (its health monitor stopped: moby's CloseMonitorChannel): it stays so after the
// unpause until a check's result changes it, which the monitor's checker starts from. The
// file is written even when it says unhealthy already: its rewrite tells the checker that a
// check under way was cut by a pause (the checker's watchPause, which kills it), whose result
// docker's drops.
func markHealthPaused(c *Container) {
	if c.notDir || !c.Config.Healthcheck.Runs() {
		return
	}
	h, err := readHealthFile(c.Dir)
	if err != nil {
		return
	}
	h.Status = HealthUnhealthy
	_ = writeJSON(filepath.Join(c.Dir, healthFile), h, false)
	wakeHealth(c.Dir, wakePaused)
}

// markHealthUnpaused tells the monitor of c, just unpaused (or thawed to take a signal), that
// the container runs again: it touches health.json, whose change of times (an inotify
// IN_ATTRIB, which none of the checker's writes makes: they rename a new file in) the
// checker's watch takes for an unpause, and starts the checks' schedule again, as docker's
// unpause starts a new health monitor (moby daemon/unpause.go -> updateHealthMonitor). The
// file keeps its content: the status stays what the pause left until a check's result.
// It comes before the thaw, so that no check falls due between the two on the old schedule.
func markHealthUnpaused(c *Container) {
	if c.notDir || !c.Config.Healthcheck.Runs() {
		return
	}
	now := time.Now()
	_ = os.Chtimes(filepath.Join(c.Dir, healthFile), now, now)
	wakeHealth(c.Dir, wakeUnpaused)
}

// healthWatch is what tells a health checker of a pause and an unpause: its container dir's
// wake FIFO (newHealthWake), else an inotify watch of the dir, for files renamed into it (a
// pause's write of health.json) and health.json touched (an unpause). One goroutine reads
// it; its reads wait in the runtime's poller, no thread of their own.
type healthWatch struct {
	mu   sync.Mutex
	wake func() // the check under way's, called at each rename; nil between checks
}

// newHealthWatch watches dir until ctx ends: each touch of its health.json is sent on
// unpaused, unless one waits there already, and each rename calls the function during set.
func newHealthWatch(ctx context.Context, dir string, unpaused chan<- struct{}) (*healthWatch, error) {
	f, err := watchHealthDir(dir)
	if err != nil {
		return nil, err
	}
	w := &healthWatch{}
	// Closed once the checks stop, never at a check's end: an inotify fd's close waits for
	// the kernel to let go of its marks (an SRCU grace period, 10 to 20 ms here), a thread
	// blocked for it.
	w.read(ctx, f, unpaused, func(b []byte) (bool, bool) { return inotifyEvents(b, healthFile) })
	return w, nil
}

// read reads f, in the runtime's poller, until ctx ends, which closes it: events tells of
// each batch read whether it holds a pause (renamed) or an unpause (touched).
func (w *healthWatch) read(ctx context.Context, f *os.File, unpaused chan<- struct{}, events func([]byte) (renamed, touched bool)) {
	context.AfterFunc(ctx, func() { f.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return // closed: the checks stop
			}
			renamed, touched := events(buf[:n])
			if touched {
				select {
				case unpaused <- struct{}{}:
				default:
				}
			}
			if renamed {
				w.mu.Lock()
				wake := w.wake
				w.mu.Unlock()
				if wake != nil {
					wake()
				}
			}
		}
	}()
}

// healthWakeFile is a FIFO in the container dir that its monitor's health checker reads
// while the checks run: a pause writes wakePaused to it after its write of health.json
// (markHealthPaused), an unpause wakeUnpaused after its touch (markHealthUnpaused).
//
// It takes the place of an inotify watch of the dir, which told the checker of those writes
// as well but cost the container's exit: the last close of an inotify fd that had a watch
// (the checker's, as the checks stop, or the monitor's exit) waits for an SRCU grace period
// of the kernel's fsnotify (inotify_release -> fsnotify_destroy_group ->
// fsnotify_wait_marks_destroyed, which flushes the mark reaper and its synchronize_srcu),
// 4 to 16 ms on a 250 Hz kernel, and the exit of the monitor, which an rm -f of the running
// container and a foreground run wait for, came that much later. A FIFO's close waits for
// nothing.
const healthWakeFile = "health.wake"

// What a pause and an unpause write to healthWakeFile.
const (
	wakePaused   = 'p'
	wakeUnpaused = 'u'
)

// newHealthWake is newHealthWatch through dir's healthWakeFile, made here (or the one a run
// before left), opened to read and write: no EOF when the last writer closes, and a pause
// meets a reader while the checks run, none (ENXIO) once they stopped.
func newHealthWake(ctx context.Context, dir string, unpaused chan<- struct{}) (*healthWatch, error) {
	name := filepath.Join(dir, healthWakeFile)
	if err := unix.Mkfifo(name, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, err
	}
	fd, err := openFIFO(name, unix.O_RDWR)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close() // not in the poller: a read would hold a thread
		return nil, err
	}
	w := &healthWatch{}
	w.read(ctx, f, unpaused, func(b []byte) (renamed, touched bool) {
		return bytes.IndexByte(b, wakePaused) >= 0, bytes.IndexByte(b, wakeUnpaused) >= 0
	})
	return w, nil
}

// openFIFO opens the FIFO name non-blocking with mode (O_RDWR, O_WRONLY); an error when it
// is no FIFO (a damaged store: a file, a link, a device in its place) or has no reader
// (O_WRONLY: ENXIO).
func openFIFO(name string, mode int) (int, error) {
	fd, err := unix.Open(name, mode|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		return -1, &os.PathError{Op: "open", Path: name, Err: errors.New("not a FIFO")}
	}
	return fd, nil
}

// wakeHealth writes what (wakePaused, wakeUnpaused) to the healthWakeFile of dir, if its
// monitor's checker reads it. A full FIFO holds a wake already; none is there for a monitor
// of a strata before it, whose inotify watch takes health.json's write.
func wakeHealth(dir string, what byte) {
	name := filepath.Join(dir, healthWakeFile)
	if fi, err := os.Lstat(name); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return // opened only if a FIFO: the open of a device could do anything
	}
	fd, err := openFIFO(name, unix.O_WRONLY)
	if err != nil {
		return
	}
	_, _ = unix.Write(fd, []byte{what})
	unix.Close(fd)
}

// during sets what a rename calls while a check runs; nil once it has ended. A call under way
// may end after it returns: a check's cut, once the check has ended, does nothing.
func (w *healthWatch) during(wake func()) {
	w.mu.Lock()
	w.wake = wake
	w.mu.Unlock()
}

// inotifyEvents reads a batch of inotify events: whether one is a file renamed in (or events
// were lost: the queue overflowed), and whether one is a change of name's attributes.
func inotifyEvents(b []byte, name string) (renamed, touched bool) {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:8])
		end := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(b[12:16]))
		if end > len(b) {
			break
		}
		switch {
		case mask&(unix.IN_MOVED_TO|unix.IN_Q_OVERFLOW) != 0:
			renamed = true
		case mask&unix.IN_ATTRIB != 0 && string(bytes.TrimRight(b[unix.SizeofInotifyEvent:end], "\x00")) == name:
			touched = true
		}
		b = b[end:]
	}
	return renamed, touched
}

// watchHealthDir returns an inotify watch of dir for files renamed into it and changes of its
// files' attributes, as a file whose reads wait in the runtime's poller for the next events,
// until its close; an error when it cannot be watched so.
func watchHealthDir(dir string) (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_ATTRIB|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify:"+dir)
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close() // not in the poller: a read would hold a thread, and nothing could end it
		return nil, err
	}
	return f, nil
}
