package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// Stdio is what a foreground container is attached to. Nil readers and writers mean
// /dev/null. With Spec.Terminal, Stdin should be the user's terminal (it is put in raw mode
// and its size follows the container's pty).
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal, if set, is told the terminal's master once a -t container has one: a
	// monitor's attach clients size it. (A pointer, not a func: a Stdio is compared.)
	Terminal *attachHub
	// NoSigProxy is run --sig-proxy=false: the signals strata gets are not passed on to the
	// container (still caught, so that strata, its monitor, does not die of them and take
	// the container with it).
	NoSigProxy bool
}

// forwardedSignals are the signals Run passes on to the container's PID 1, as docker run
// --sig-proxy does. SIGKILL and SIGSTOP cannot be caught; SIGCHLD and SIGWINCH are ours;
// SIGURG is left out because the Go runtime sends it to itself to preempt goroutines.
var forwardedSignals = []os.Signal{
	unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGCONT, unix.SIGPIPE, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
	unix.SIGVTALRM, unix.SIGPROF, unix.SIGWINCH, unix.SIGIO, unix.SIGPWR, unix.SIGSYS,
	unix.SIGTRAP, unix.SIGXCPU, unix.SIGXFSZ,
}

// Run runs spec in the foreground: the container's stdio is attached, signals strata receives
// are forwarded to it, and Run returns its exit status (128+n when signal n killed it). When
// ctx ends, the container is killed. Everything Run created is gone when it returns: the cgroup
// is deleted and the mounts died with the container's mount namespace.
//
// Failures before the command starts return an *ExitCodeError: 125 for strata's own (the
// init's read "init: mounting rootfs: ..."), 126 when the command cannot be executed, 127 when
// it is not found.
func Run(ctx context.Context, spec Spec, stdio Stdio) (int, error) {
	res, err := run(ctx, nil, spec, stdio, nil, nil)
	var ec *ExitCodeError
	if errors.As(err, &ec) {
		return ec.Code, err
	}
	return res.Code, err
}

// result is how a container ended.
type result struct {
	Code       int
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
}

// run is Run with a hook called once the command runs (its host pid), in a goroutine of its
// own that run waits for before it returns; the monitor uses it to record the state and let
// Start return. exited is closed once the command has been reaped: a hook that finds it
// closed knows the command is gone already. log, when not nil, gets a copy of what the
// container writes to stdio's Stdout and Stderr (a stored foreground container's log.json);
// the caller flushes it once run returns, as the output has ended then. c is the stored
// container spec is of (nil for a bare Run), whose health monitor a thaw tells (thaw).
func run(ctx context.Context, c *Container, spec Spec, stdio Stdio, log *logWriter, started func(pid int, exited <-chan struct{})) (res result, err error) {
	res.Code = ExitOwnError
	spec = withNetworkDonor(spec.withDefaults())
	if err := spec.validate(); err != nil {
		return res, withCode(ExitOwnError, err)
	}
	cg, err := takeCgroup(spec.ID, spec.Resources)
	if err != nil {
		return res, withCode(ExitOwnError, fmt.Errorf("creating cgroup: %w", err))
	}
	defer func() {
		if oom, oerr := cg.OOMKilled(); oerr == nil {
			res.OOMKilled = oom
		}
		if cerr := errors.Join(cg.Kill(), cg.Delete(), cg.Close()); cerr != nil {
			err = withCode(ExitOwnError, errors.Join(err, cerr))
		}
	}()

	// Signals are caught from before the container exists, so one sent while it starts is
	// forwarded once it runs instead of killing strata (catching takes effect within half a
	// millisecond; SIGINT and SIGTERM the CLI catches from its start).
	sigs := catchSignals()
	defer sigs.stop()

	p, err := startInit(ctx, spec, stdio, cg, log)
	if err != nil {
		return res, err
	}
	res.StartedAt = time.Now().UTC()
	// The init has exec'd the command: the helper's protected view is closed now, in the
	// background, while the container runs, not at this process's exit, where dissolving
	// its detached mount (an expedited RCU grace period) would add ~1 ms to every `run`.
	dropSealedExe()
	// The hook (writing state.json) runs while the container does: a short command would
	// otherwise wait for that write to end before it is reaped.
	var hook sync.WaitGroup
	exited := make(chan struct{})
	if started != nil {
		pid := p.cmd.Process.Pid
		hook.Go(func() { started(pid, exited) })
	}
	defer hook.Wait()

	stopForwarding := forwardSignals(ctx, sigs, !stdio.NoSigProxy, &p.terminal, p.cmd.Process, func() {
		_ = p.cmd.Process.Kill()
		_ = cg.Kill()
	}, func(sig syscall.Signal) {
		// docker's proxy passes the signal on as a kill: a paused container is resumed for
		// its stop signal (any, when it names none) and stays paused for another.
		resumeSignalled(c, cg, sig)
	})
	werr := p.wait()
	close(exited)
	stopForwarding()
	res.FinishedAt = time.Now().UTC()
	res.Code = exitCode(p.cmd.ProcessState)
	if res.Code < 0 {
		return res, withCode(ExitOwnError, fmt.Errorf("waiting for container: %w", werr))
	}
	return res, nil
}

// exitCode maps a wait status to the shell's convention: the exit status, or 128+n after
// signal n. It is -1 when the process was not waited for.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.ExitCode()
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// initProc is a started init, its socket and the host-side ends of its stdio.
type initProc struct {
	cmd  *exec.Cmd
	sock *os.File        // our end of the init's socket
	cg   *cgroups.Cgroup // the container's cgroup: the init was born in it or joins it itself
	// netnsLater: the init waits for the spec message to name its network namespace.
	netnsLater bool
	// stdinPipe is the write end of the pipe that is the container's stdin with -i (without
	// -t), until feedStdin hands it to the copier.
	stdinPipe *os.File
	// stdout and stderr are what the container's output pipes are copied to, by outCopy and
	// errCopy (nil with a terminal, whose copy attach makes).
	stdout, stderr   *outputTee
	outCopy, errCopy *outputCopy
	// execThreadKilled: watchExecThread found the init's main thread dead before the exec.
	execThreadKilled atomic.Bool
	// host waits for what the init's plan needs from the host, read while the init starts.
	host func() *hostInfo
	terminal
}

// startInit starts the init in fresh namespaces inside cg (or takes the one PrepareInit
// started for this container), sends it the spec and waits until it has exec'd the command or
// failed. The container's output goes to log too when it is not nil.
func startInit(ctx context.Context, spec Spec, stdio Stdio, cg *cgroups.Cgroup, log *logWriter) (_ *initProc, err error) {
	p := takeInit(spec.ID, shapeOf(spec), stdio, cg)
	if p == nil {
		var netns netnsSource
		if shapeOf(spec).Network == NetworkNone {
			netns.fd = takeNetns(spec.ID) // PrepareNetwork's, if any
		}
		if netns.join, err = openNSJoin(spec); err != nil {
			netns.fd.Close()
			return nil, withCode(ExitOwnError, err)
		}
		if p, err = spawnInit(shapeOf(spec), stdio, cg, netns); err != nil {
			return nil, err
		}
	}
	if log != nil {
		// Before the go-ahead: the command writes nothing before it.
		if p.stdout != nil {
			p.stdout.log.Store(log.stream("stdout"))
			p.stderr.log.Store(log.stream("stderr"))
		}
		if spec.Terminal {
			// A terminal's output is one stream, which docker logs as stdout.
			tee := &outputTee{w: stdio.Stdout}
			tee.log.Store(log.stream("stdout"))
			stdio.Stdout = tee
		}
	}
	parentSock := p.sock
	defer parentSock.Close()
	filtered := false // the init was sent a seccomp filter, installed just before its exec
	defer func() {
		if err != nil {
			ourKill := true
			if errors.Is(err, errInitExited) {
				// It is exiting (its socket's end came): its status tells how it ended,
				// which a kill of ours first would hide. A SIGKILL from elsewhere after the
				// filter was blamed on the profile. One that lingers is killed.
				t := time.AfterFunc(initExitWait, func() { _ = p.cmd.Process.Kill() })
				_ = p.wait()
				ourKill = !t.Stop()
			} else {
				_ = p.cmd.Process.Kill()
				_ = p.wait()
			}
			sig, signalled := signalOf(p.cmd.ProcessState)
			switch {
			case cgroupOOMKilled(cg):
				// What its death left us (an EOF, a reset, a broken pipe) says nothing.
				err = withCode(ExitOwnError, errInitOOMKilled)
			case errors.Is(err, errInitExited) && killedBy(p.cmd.ProcessState, unix.SIGSYS):
				err = withCode(ExitOwnError, errInitSeccompKilled)
			case errors.Is(err, errInitExited) && p.execThreadKilled.Load():
				err = withCode(ExitOwnError, errInitExecThreadGone)
			case errors.Is(err, errInitExited) && signalled && !ourKill && !(filtered && faultSignal(sig)):
				// Killed from outside (kill -9, a killed session): no profile's doing. A
				// fault of its own after the filter (the Go runtime's crash when even its
				// exit is refused: SIGTRAP) is the profile's, below.
				err = withCode(ExitOwnError, fmt.Errorf("%w: killed by signal %d (%s)", errInitExited, sig, unix.SignalName(sig)))
			case errors.Is(err, errInitExited) && filtered && (!signalled || !ourKill):
				// It exited by itself after the filter, or crashed: a call it refused
				// (EPERM, ENOSYS) failed the start, and the report of that failure with it.
				// Every step before the filter reports its error; a profile that refuses
				// the write of that report, or the exec, leaves nothing else to say.
				err = withCode(ExitOwnError, fmt.Errorf("%w, after its seccomp filter was installed: does the profile refuse a call the start makes (write, execve)?", errInitExited))
			}
		}
	}()
	// A setup that hangs (a mount on a dead NFS server) must not outlive ctx.
	stop := context.AfterFunc(ctx, func() { _ = p.cmd.Process.Kill() })
	defer stop()
	// The spec goes first, so the init mounts the root while we write the etc files it binds
	// and compile its seccomp filter; it binds none of them, and goes no further than the
	// plan's join step, until it has the go-ahead, sent once both are done.
	start := initStart{Spec: spec}
	if f, ok := stdio.Stdin.(*os.File); ok && spec.Terminal {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			start.Rows, start.Cols = ws.Row, ws.Col
		}
	}
	if start.Rows == 0 && stdio.Terminal != nil && spec.Terminal {
		// A monitor's: the size recorded for the container (Config.ConsoleSize).
		start.Rows, start.Cols = stdio.Terminal.size[0], stdio.Terminal.size[1]
	}
	if p.netnsLater {
		// Made while the init started (PrepareNetwork): the init opens our fd of it, which
		// stays open until the init has exec'd. None: the init makes one.
		if ns := takeNetns(spec.ID); ns != nil {
			defer ns.Close()
			start.Netns = fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd())
		}
	}
	start.Host = p.host()
	if err := writeInitStart(parentSock, start); err != nil {
		return nil, withCode(ExitOwnError, fmt.Errorf("sending spec to init: %w", err))
	}
	// An init that failed meanwhile (a bad lowerdir) has its own error waiting on the socket:
	// that one is worth more than the broken pipe it leaves us.
	stopErr := writeEtcFiles(spec)
	if stopErr == nil {
		var filter *seccompFilter
		if filter, stopErr = containerFilter(spec); stopErr != nil {
			stopErr = fmt.Errorf("loading seccomp filter: %w", stopErr)
		} else if err := goAheadSent(p.cmd.Process.Pid, func() error {
			return writeGoAhead(parentSock, goAhead{Go: true, Seccomp: filter})
		}); err != nil {
			stopErr = fmt.Errorf("telling init to go ahead: %w", err)
		} else if filtered = filter != nil; filtered {
			defer watchExecThread(p)()
		}
	}
	if stopErr != nil {
		_ = p.cmd.Process.Kill()
	}
	answers := &initReader{fd: int(parentSock.Fd())}
	execing := false
	for {
		r, files, err := answers.next()
		if r.Console && len(files) > 0 && p.pty == nil {
			files[0] = pollable(files[0])
			p.attach(files[0], stdio, spec.Stdin)
			if stdio.Terminal != nil {
				stdio.Terminal.setTerminal(files[0], p.closePty)
			}
			files = files[1:]
		}
		closeFiles(files)
		switch {
		case ctx.Err() != nil:
			return nil, withCode(ExitOwnError, fmt.Errorf("starting container: %w", ctx.Err()))
		case errors.Is(err, errEOF) && p.execThreadKilled.Load():
			// Killed by watchExecThread, its thread dead in the execve (a profile that kills
			// execve): the EOF is that kill's, not the exec's.
			return nil, withCode(ExitOwnError, errInitExited)
		case errors.Is(err, errEOF) && execing && stopErr == nil:
			if spec.Terminal && p.pty == nil {
				return nil, withCode(ExitOwnError, errors.New("init: sent no terminal"))
			}
			p.feedStdin(stdio.Stdin)
			return p, nil // the socket closed on exec: the command runs
		case err != nil && stopErr != nil:
			return nil, withCode(ExitOwnError, stopErr)
		case errors.Is(err, errEOF), errors.Is(err, unix.ECONNRESET):
			// A reset is its end with what we sent unread: it died before it read the
			// go-ahead (killed from outside), which its status tells.
			return nil, withCode(ExitOwnError, errInitExited)
		case err != nil:
			return nil, withCode(ExitOwnError, fmt.Errorf("init: reading its answer: %w", err))
		case r.Console:
		case r.Exec:
			execing = true
		case r.Code == ExitNotFound || r.Code == ExitCannotInvoke || r.Kind == "command-path":
			return nil, &ExitCodeError{Code: r.Code, Err: &remoteError{r.Error, remoteSentinels[r.Kind]}}
		default:
			return nil, &ExitCodeError{Code: ExitOwnError, Err: &remoteError{"init: " + r.Error, remoteSentinels[r.Kind]}}
		}
	}
}

// goAheadSent calls send, the go-ahead's write to the init whose pid is pid; tests replace it
// to act on the init around it.
var goAheadSent = func(pid int, send func() error) error { return send() }

// errInitExited is the error of an init that ended before it exec'd the command without
// saying why.
var errInitExited = errors.New("init: exited while setting up the container")

// errInitSeccompKilled is the error of an init that the container's own seccomp filter killed
// (SIGSYS), installed just before the exec: a profile whose default action kills, or that
// kills a call the start makes after it (execve).
var errInitSeccompKilled = errors.New("init: killed by the container's seccomp filter (SIGSYS) before its command ran: the profile refuses a call the start makes (execve)")

// watchExecThread watches, until the returned stop is called, for the death of the init's
// main thread, which installs the seccomp filter and execs: a profile whose action for a call
// after the filter (its default, or execve's) is SCMP_ACT_KILL kills that thread only
// (SECCOMP_RET_KILL_THREAD), and the init's other threads, the Go runtime's, kept it alive
// with our socket open: strata waited for ever. The main thread gone (the leader a zombie)
// before the exec, the init is killed, which ends the wait on the socket. stop waits for the
// watcher: once it returns, nothing kills the command the init became.
func watchExecThread(p *initProc) (stop func()) {
	pid := p.cmd.Process.Pid
	sock := int(p.sock.Fd())
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		seen := 0
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			b, err := readProcStat(pid)
			if err != nil || peerClosed(sock) {
				// Reaped, or its end of the socket closed: it exec'd (or died), and the
				// socket says the rest. What it is now is the command (or --init's reaper),
				// whose own exit, a Go program's, shows a zombie leader with threads too:
				// under load, before this saw the exec, a reaper that had already forwarded a
				// SIGTERM and exited was killed, and the start blamed the filter.
				return
			}
			// A zombie leader with threads still alive, on two looks 5 ms apart: not a
			// command that exec'd and exited (a zombie without threads), nor the moment
			// of an exec from another thread, whose leader goes as the exec takes its place.
			if leaderZombieWithThreads(b) {
				if seen++; seen < 2 {
					continue
				}
				p.execThreadKilled.Store(true)
				_ = p.cmd.Process.Kill()
				return
			}
			seen = 0
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// peerClosed reports whether the other end of the stream socket fd is closed (POLLRDHUP, set
// however much it wrote before that is unread): the init's end is close-on-exec, and its
// other threads keep it open when the filter kills its exec thread alone.
func peerClosed(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0
}

// leaderZombieWithThreads reports whether a /proc/PID/stat says the thread group leader is a
// zombie while other threads of the process live (state Z, num_threads above 1), and did not
// die of SIGKILL: a SIGKILL ends every thread, the leader's first at times, and on a busy
// machine the others took more than the watcher's two looks to follow (an init killed from
// outside was then blamed on the seccomp profile). The leader's exit_code (field 52, readable
// by its parent) is 9 then, SIGSYS when the filter killed the thread.
func leaderZombieWithThreads(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	f := bytes.Fields(stat[i+1:]) // state is f[0], num_threads (field 20) f[17], exit_code (52) f[49]
	if len(f) < 18 || string(f[0]) != "Z" {
		return false
	}
	if len(f) >= 50 {
		if code, err := strconv.Atoi(string(f[49])); err == nil && code&0x7f == int(unix.SIGKILL) {
			return false
		}
	}
	n, err := strconv.Atoi(string(f[17]))
	return err == nil && n > 1
}

// errInitExecThreadGone is the error of an init whose main thread ended after the container's
// seccomp filter was installed, before the exec: killed by the filter (SCMP_ACT_KILL kills
// the thread alone), or ended as the Go runtime does when even exit_group is refused.
var errInitExecThreadGone = errors.New("init: its thread ended under the container's seccomp filter before the command ran: the profile refuses a call the start makes (write, execve, exit_group)")

// initExitWait bounds the wait for an init whose socket has closed before its exec to exit.
const initExitWait = time.Second

// faultSignal reports whether sig is one a process raises on itself by a fault or a crash
// (the Go runtime's throw), not one another process sends to end it.
func faultSignal(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGTRAP, unix.SIGSEGV, unix.SIGBUS, unix.SIGILL, unix.SIGFPE, unix.SIGABRT, unix.SIGSYS:
		return true
	}
	return false
}

// signalOf returns the signal that ended the process of ps, if a signal did.
func signalOf(ps *os.ProcessState) (syscall.Signal, bool) {
	if ps == nil {
		return 0, false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// killedBy reports whether ps is the state of a process ended by signal sig.
func killedBy(ps *os.ProcessState, sig syscall.Signal) bool {
	if ps == nil {
		return false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// errInitOOMKilled is the error of an init the OOM killer ended before it exec'd the command,
// as runc says it ("container init was OOM-killed (memory limit too low?)"): a --memory of a
// few MB, or an image whose environment or command is megabytes, which the init decodes and
// holds while it sets up.
var errInitOOMKilled = errors.New("init: killed by the OOM killer while setting up the container: the memory limit is too low")

// cgroupOOMKilled says whether the OOM killer has killed a process of cg (nil: none), which
// holds only the init until it has exec'd the command.
func cgroupOOMKilled(cg *cgroups.Cgroup) bool {
	if cg == nil {
		return false
	}
	oom, err := cg.OOMKilled()
	return err == nil && oom
}

// spawnInit clones the init, shaped as shape, inside cg and attached to stdio. It waits on
// its socket for the spec. Its network namespace, when it gets one of its own, comes from
// netns (see netnsSource).
func spawnInit(shape InitShape, stdio Stdio, cg *cgroups.Cgroup, netns netnsSource) (*initProc, error) {
	if netns.fd != nil {
		defer netns.fd.Close()
	}
	defer netns.join.close()
	exe, release, err := sealedExe()
	if err != nil {
		return nil, withCode(ExitOwnError, err)
	}
	defer release() // the init has exec'd it once Start returns
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, withCode(ExitOwnError, fmt.Errorf("creating init socket: %w", err))
	}
	parentSock := os.NewFile(uintptr(fds[0]), "init-parent")
	childSock := os.NewFile(uintptr(fds[1]), "init-child")

	flags := shape.cloneFlags()
	args, extra := []string{initMarker}, []*os.File{childSock}
	// The init is born in the cgroup where it can be (v2, or a hybrid host's unified node) and
	// joins the v1 controllers itself as its first act: a move by the init of its own thread
	// waits for no RCU grace period (cgroups.JoinThread), a move of it by us would.
	for _, dir := range cg.ThreadDirs() {
		args = append(args, initCgroupArg+dir)
	}
	later := false
	switch {
	case shape.Network != NetworkNone:
	case netns.fd != nil:
		args, extra = append(args, initNetnsArg), append(extra, netns.fd) // initNetnsFD
	case netns.later:
		args, later = append(args, initNetnsLaterArg), true
	default:
		flags |= unix.CLONE_NEWNET
	}
	if netns.join != nil && netns.join.shm != nil {
		extra = append(extra, nil, nil)[:initShmFD-initPipeFD] // the netns fd, or a gap
		extra = append(extra, netns.join.shm)                  // initShmFD
	}
	p := &initProc{sock: parentSock, cg: cg, netnsLater: later, host: readHostInfo()}
	p.cmd = &exec.Cmd{
		Path:       exe,
		Args:       args,
		Env:        []string{oneP},
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
			Pdeathsig:  unix.SIGKILL,
		},
	}
	if cgfd, ok := cg.BirthFD(); ok {
		p.cmd.SysProcAttr.UseCgroupFD = true
		p.cmd.SysProcAttr.CgroupFD = cgfd
	}
	// A session of its own, as runc gives every container: without -t the container would
	// otherwise keep the user's terminal as its controlling one, and TIOCSTI on its stdio
	// would type commands into the user's shell (CVE-2016-10124). Signals the terminal sends
	// strata reach the container through forwardSignals, as docker run's --sig-proxy.
	p.cmd.SysProcAttr.Setsid = true
	// With -t the init makes the terminal in the container's devpts and sends us its master
	// (setupConsole); until then its stdio is /dev/null. Without, pipes to ours.
	if !shape.Terminal {
		if shape.Stdin {
			// A pipe too, as docker gives, never strata's own stdin: through /proc/self/fd/0
			// the container could chmod or reopen for writing the host file or terminal it
			// is. Our own pipe rather than os/exec's, whose copy Wait waits for: a read on
			// the user's terminal blocks until they type, and must keep neither Run nor the
			// cleanup after it waiting once the container is gone.
			pr, pw, err := os.Pipe()
			if err != nil {
				parentSock.Close()
				childSock.Close()
				return nil, withCode(ExitOwnError, fmt.Errorf("creating the container's stdin: %w", err))
			}
			defer pr.Close() // the init has its own copy once Start returns
			p.cmd.Stdin, p.stdinPipe = pr, pw
		}
		// Pipes, never strata's own files: through /proc/self/fd the container could reopen or
		// chmod the file or terminal strata's output goes to. os/exec copies them, and closes
		// its end when ours fails (EPIPE), so the container's next write fails as it would.
		// The copies go through tees, which startInit points at the container's log when it
		// keeps one: this init may have been started before the container (PrepareInit).
		p.stdout, p.stderr = &outputTee{w: stdio.Stdout}, &outputTee{w: stdio.Stderr}
		var outW, errW *os.File
		p.outCopy, outW, err = newOutputCopy(p.stdout)
		if err == nil {
			p.errCopy, errW, err = newOutputCopy(p.stderr)
			if err != nil {
				outW.Close()
			}
		}
		if err != nil {
			parentSock.Close()
			childSock.Close()
			if p.stdinPipe != nil {
				p.stdinPipe.Close()
			}
			return nil, withCode(ExitOwnError, fmt.Errorf("creating the container's output pipes: %w", err))
		}
		// The child's own ends: ours go once it has them, so the copies end at its end.
		defer outW.Close()
		defer errW.Close()
		p.cmd.Stdout, p.cmd.Stderr = outW, errW
	}
	err = netns.join.start(p.cmd)
	childSock.Close()
	_ = cg.Close() // the birth fd: the child is born (a later BirthFD opens it again)
	if err != nil {
		parentSock.Close()
		if p.stdinPipe != nil {
			p.stdinPipe.Close()
		}
		p.close()
		return nil, withCode(ExitOwnError, fmt.Errorf("starting init: %w", err))
	}
	return p, nil
}

// readHostInfo reads hostCgroupInfo on a goroutine, while the init's runtime starts (which
// takes longer), for its spec message; the returned func waits for it. The init's mount
// namespace is a copy of ours, so it would read the same, but after the spec came.
func readHostInfo() func() *hostInfo {
	read := make(chan hostInfo, 1)
	go func() { read <- hostCgroupInfo() }()
	return sync.OnceValue(func() *hostInfo {
		h := <-read
		return &h
	})
}

// feedStdin starts copying in to the container's stdin pipe, which it closes at in's end (nil
// is an empty input), as docker closes a container's stdin at the end of the client's. It
// is called once the command runs: an init that ends unused (PrepareInit's, when the run
// does not take it) must not have consumed the user's input. The copy is not waited for;
// once the container is gone its next write fails (EPIPE) and it ends.
func (p *initProc) feedStdin(in io.Reader) {
	w := p.stdinPipe
	if w == nil {
		return
	}
	p.stdinPipe = nil
	if in == nil {
		w.Close()
		return
	}
	go func() {
		_, _ = io.Copy(w, in)
		w.Close()
	}()
}

// outputTee is where a container's stdout or stderr is copied to (outputCopy, from a pipe
// of ours, never w itself when w is a file, nor the host's /dev/null when w is nil): w (nil
// discards it) and, once set, the container's log.
type outputTee struct {
	w   io.Writer
	log atomic.Pointer[logStream]
}

// Write writes p to w, and what w took to the log. An error of w's is returned (the copy then
// closes the pipe, as without a log); one of the log's is not: the user's output goes on.
func (t *outputTee) Write(p []byte) (n int, err error) {
	n = len(p)
	if t.w != nil {
		n, err = t.w.Write(p)
	}
	if l := t.log.Load(); l != nil && n > 0 {
		_, _ = l.Write(p[:n])
	}
	return n, err
}

// wait reaps the init, copies what its output pipes still hold (finishOutput), and releases
// the terminal, and the stdin pipe if nothing fed it.
func (p *initProc) wait() error {
	err := p.cmd.Wait()
	finishOutput(nil, p.outCopy, p.errCopy)
	if p.stdinPipe != nil {
		p.stdinPipe.Close()
		p.stdinPipe = nil
	}
	p.close()
	return err
}

// forwardSignals passes what arrives on sigs to proc (SIGWINCH resizes t's pty instead when
// there is one; without, it goes on as docker run's proxy passes it), or drops it unless
// proxy (--sig-proxy=false), until the returned stop is called; when ctx ends first it calls cancel once and stops. after, if not nil, runs after
// each signal passed on, with that signal.
//
// Once sigs catches its signals it reads the user's terminal size again for the pty: the
// catch is made in the background and may take effect after the container runs (tens of ms
// on a busy machine), and a resize before it, SIGWINCH ignored by default, was lost.
func forwardSignals(ctx context.Context, sigs *signalCatcher, proxy bool, t *terminal, proc *os.Process, cancel func(), after func(syscall.Signal)) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-sigs.ready:
			t.resize() // a SIGWINCH from now on is caught
		case <-ctx.Done():
			cancel()
			return
		case <-done:
			return
		}
		for {
			select {
			case s := <-sigs.c:
				if s == unix.SIGWINCH && t.pty != nil {
					t.resize() // which the kernel signals to the terminal's foreground
					continue
				}
				if s == unix.SIGPIPE || !proxy {
					// SIGPIPE is ours, from a write to a closed pipe: the container's stdin
					// it closed, or our own output. Not the container's to die of, as
					// docker's signal proxy skips it too; it is caught only so that a closed
					// stdout does not kill strata before the container's next write fails
					// as it would.
					continue
				}
				_ = proc.Signal(s)
				if sig, ok := s.(syscall.Signal); ok && after != nil {
					after(sig)
				}
			case <-ctx.Done():
				cancel()
				return
			case <-done:
				return
			}
		}
	}()
	// stop returns once the goroutine has: its caller then closes the terminal and returns,
	// and the user's terminal, whose size a resize was still reading, is the caller's again.
	return func() {
		close(done)
		<-stopped
	}
}
