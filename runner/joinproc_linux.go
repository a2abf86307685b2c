package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/strata-run/strata/runner/cgroups"
	"golang.org/x/sys/unix"
)

// joinProc is a started nsjoin helper, seen from strata: the helper process and, with a
// terminal, the pty master the helper allocated in the container and passed back.
type joinProc struct {
	cmd *exec.Cmd
	// copies copy the command's stdout and stderr, pipes of ours, to the user's (Confine);
	// childEnds are the child's ends of them, closed once it has them.
	copies    []*outputCopy
	childEnds []*os.File
	// cancel ends the wait for what the pipes held when the command ended (runJoin's ctx).
	cancel <-chan struct{}
	terminal
}

// maxAnswer bounds the helper's answer, one JSON line.
const maxAnswer = 64 << 10

// runJoin starts the nsjoin helper (in cg when not nil, where the container's PID 1, pid, can
// be: see cgroups.BirthFDFor), sends it req and waits for the command, relaying signals and
// the terminal like Run. attachStdin is -i: without it the command's stdin is /dev/null (or,
// with a terminal, a terminal nobody types into).
//
// keys, with a terminal and attachStdin, are the detach keys (exec -it --detach-keys): typed,
// they end runJoin with ErrDetached, the command running on, its terminal handed to the
// helper (handOver).
//
// check, when not nil, makes this a health check's run (execCheck): the signals strata gets
// are neither caught nor passed on (they are the container's, or its monitor's); the check's
// timeout counts from the command's start, as docker's daemon counts it, and ctx's end or the
// timeout ends the command with its process group (it leads a session of its own), so that
// what a check left running (sleep under a shell) goes too, its helper reaping it (killed
// only if it has not ended checkKillGrace later). The helper is never killed before it has
// answered (unless it takes checkStartTimeout): killed then, it may have started the command
// already, which would run on in the container with nothing to end it, at every check.
func runJoin(ctx context.Context, req joinRequest, pid int, pidfd *os.File, cg *cgroups.Cgroup, stdio Stdio, attachStdin bool, keys []byte, check *joinCheck) (int, error) {
	quiet := check != nil
	exe, release, err := sealedExe()
	if err != nil {
		return ExitOwnError, err
	}
	defer release()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ExitOwnError, fmt.Errorf("creating helper socket: %w", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "nsjoin-parent")
	childSock := os.NewFile(uintptr(fds[1]), "nsjoin-child")
	defer parentSock.Close()

	var sigs *signalCatcher
	if quiet {
		sigs = idleCatcher()
	} else {
		sigs = catchSignals()
		defer sigs.stop()
	}

	p := &joinProc{}
	p.cmd = &exec.Cmd{
		Path:        exe,
		Args:        []string{nsjoinMarker},
		Env:         []string{},
		ExtraFiles:  []*os.File{childSock, pidfd},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL},
	}
	if req.Detach {
		// It outlives strata (holdDetached): it must not keep the user's working directory
		// busy meanwhile (an unmount would fail). Exec names the command's own.
		p.cmd.Dir = "/"
	}
	if cg != nil {
		// Born in the cgroup where it can be; the v1 controllers its thread joins itself
		// (CgroupDirs), as the init does, and the command it starts is in all of them.
		if cgfd, ok := cg.BirthFDFor(pid); ok {
			p.cmd.SysProcAttr.UseCgroupFD = true
			p.cmd.SysProcAttr.CgroupFD = cgfd
		}
		req.CgroupDirs = cg.ThreadDirs()
	}
	if !req.Terminal {
		if attachStdin {
			p.cmd.Stdin = stdio.Stdin
		}
		p.cmd.Stdout, p.cmd.Stderr = stdio.Stdout, stdio.Stderr
		if req.Confine {
			// Pipes, never strata's own fds: through /proc/self/fd an exec'd command could
			// reopen or chmod whatever they are (a host file, the host's /dev/null), or keep
			// the user's terminal and read what they type into their shell after strata
			// exits. Without -i, stdin is a pipe already at its end, as /dev/null reads.
			// Our own pipe whatever the reader, never os/exec's, whose copy Wait waits for.
			pr, pw, err := os.Pipe()
			if err != nil {
				return ExitOwnError, fmt.Errorf("creating stdin pipe: %w", err)
			}
			defer pr.Close()
			if in := p.cmd.Stdin; in != nil {
				// Not waited for, as with -t: a read on the user's terminal blocks until
				// they type.
				go func() { _, _ = io.Copy(pw, in); pw.Close() }()
			} else {
				pw.Close()
			}
			p.cmd.Stdin = pr
			// Copied by us, not os/exec, whose copy dropped what the pipe still held a
			// second after the command ended (outputCopy): a reader slower than the
			// command lost its last lines.
			for _, out := range []*io.Writer{&p.cmd.Stdout, &p.cmd.Stderr} {
				if *out == nil {
					continue
				}
				c, w, err := newOutputCopy(*out)
				if err != nil {
					p.closeChildEnds()
					return ExitOwnError, fmt.Errorf("creating output pipe: %w", err)
				}
				p.copies, p.childEnds = append(p.copies, c), append(p.childEnds, w)
				*out = w
			}
			defer p.closeChildEnds() // the copies end at the pipes' end
		}
	}
	p.cancel = ctx.Done()
	// Whether the container's cgroup has seen an OOM kill yet: one after is the helper's,
	// which runs in it (below, diedOf).
	oomBefore := cgroupOOMKilled(cg)
	diedOf := func(err error) error {
		if !oomBefore && cgroupOOMKilled(cg) {
			return errHelperOOMKilled
		}
		return err
	}
	err = p.cmd.Start()
	childSock.Close()
	p.closeChildEnds()
	release()
	dropSealedExe() // not at this process's exit (see dropSealedExe)
	if err != nil {
		return ExitOwnError, fmt.Errorf("starting helper: %w", err)
	}
	started := false
	defer func() {
		if !started {
			_ = p.cmd.Process.Kill()
			_ = p.wait()
		}
	}()
	// The helper reads the container's files (/etc/passwd); one made to block must not
	// keep strata waiting past ctx.
	startCtx := ctx
	if quiet {
		var cancel context.CancelFunc
		startCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), checkStartTimeout)
		defer cancel()
	}
	stop := context.AfterFunc(startCtx, func() { _ = p.cmd.Process.Kill() })
	defer stop()
	var giveUp *earlySignals
	if quiet {
		giveUp = &earlySignals{done: make(chan struct{})}
	} else {
		giveUp = giveUpOnSignal(p.cmd.Process)
	}
	if joinStartedHook != nil {
		joinStartedHook(p.cmd.Process.Pid) // signals are caught by then
	}
	if err := json.NewEncoder(parentSock).Encode(req); err != nil {
		giveUp.answered()
		return ExitOwnError, diedOf(fmt.Errorf("sending request to helper: %w", err))
	}
	a, master, err := readAnswer(parentSock)
	if joinAnsweredHook != nil {
		joinAnsweredHook()
	}
	if sig := giveUp.answered(); sig != nil {
		if err == nil && a.Pid > 0 {
			// Answered as it was killed: its command must not run on without it.
			_ = unix.Kill(a.Pid, unix.SIGKILL)
		}
		if master != nil {
			master.Close()
		}
		n := int(sig.(syscall.Signal))
		return 128 + n, &ExitCodeError{Code: 128 + n, Err: fmt.Errorf("%v before the command started, which did not answer in %v", sig, earlySignalGrace)}
	}
	if err == nil && check != nil && check.reached != nil {
		// In the container, the command started or found not to run (a.Error).
		check.reached()
	}
	switch {
	case err != nil && startCtx.Err() != nil:
		// ctx's end killed the helper before it answered.
		return ExitOwnError, startCtx.Err()
	case err != nil:
		return ExitOwnError, diedOf(err)
	case a.Error != "":
		code := a.Code
		if code != ExitNotFound && code != ExitCannotInvoke {
			code = ExitOwnError
		}
		return code, &ExitCodeError{Code: code, Err: errors.New(a.Error)}
	case req.Terminal && !req.Detach && master == nil:
		return ExitOwnError, errors.New("helper sent no terminal")
	}
	// Answered: the command runs, even if ctx ended meanwhile. That end is acted on below as
	// any later one is (forwardSignals kills the command and the helper); returned here, it
	// left the command running in the container without its helper.
	started = true
	if master != nil {
		if !req.Detach {
			p.keys = keys
		}
		p.attach(master, stdio, attachStdin)
	}
	if req.Detach {
		// The helper stays as long as the command, its parent (holdDetached): it is reaped
		// in the background, or by whoever inherits it once strata exits.
		go func() { _ = p.cmd.Wait() }()
		return 0, nil
	}
	kill := func() {
		// The command has no parent-death signal (see joinAndStart): kill it by pid, which
		// the helper, its parent, keeps from being reused until reaped.
		_ = unix.Kill(a.Pid, unix.SIGKILL)
		_ = p.cmd.Process.Kill()
	}
	var grace *time.Timer // set by kill, before stopForwarding returns
	if quiet {
		kill = func() {
			// Its group, by the id that is the command's pid, which the helper holds until
			// it reaps it: no other group can have that id meanwhile.
			_ = unix.Kill(-a.Pid, unix.SIGKILL)
			_ = unix.Kill(a.Pid, unix.SIGKILL)
			grace = time.AfterFunc(checkKillGrace, func() { _ = p.cmd.Process.Kill() })
		}
	}
	runCtx := ctx
	if quiet {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, check.timeout)
		defer cancel()
	}
	stopForwarding := forwardSignals(runCtx, sigs, true, &p.terminal, p.cmd.Process, kill, nil)
	detached, werr := p.waitOrDetach(parentSock)
	stopForwarding()
	if grace != nil {
		grace.Stop()
	}
	if detached {
		return 0, ErrDetached
	}
	code := exitCode(p.cmd.ProcessState)
	if code < 0 {
		return ExitOwnError, fmt.Errorf("waiting for helper: %w", werr)
	}
	if quiet && ctx.Err() == nil && errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		return code, errHealthTimeout
	}
	return code, nil
}

// joinCheck is what runJoin needs to know of a health check's run.
type joinCheck struct {
	timeout time.Duration // from the command's start
	// reached, when not nil, is called once the helper has answered: it joined the
	// container and started the command, or found it could not (not found, not executable).
	// A check refused before (the container paused or gone) never calls it.
	reached func()
}

// checkStartTimeout bounds how long a health check's helper may take to start the command
// (docker's daemon gives an exec's start 30s, apart from the check's timeout).
const checkStartTimeout = 30 * time.Second

// checkKillGrace is how long the helper of a health check whose time ran out gets to reap the
// command it was killed for and end (see runJoin's check).
const checkKillGrace = time.Second

// idleCatcher is a signalCatcher that catches nothing, for a run that takes no signals.
func idleCatcher() *signalCatcher {
	ready := make(chan struct{})
	close(ready)
	return &signalCatcher{c: make(chan os.Signal), ready: ready}
}

// errHelperOOMKilled is the error of a helper the OOM killer ended before it answered: it runs
// in the container's cgroup, and a container at its memory limit (or an -e of megabytes,
// which the helper decodes) left it no room. Its death said only "helper exited without an
// answer", or a reset or a broken pipe.
var errHelperOOMKilled = errors.New("helper killed by the OOM killer before the command started: the container is at its memory limit")

// joinStartedHook, when not nil, is told the helper's pid once it is started (tests).
var joinStartedHook func(pid int)

// joinAnsweredHook, when not nil, is called once the helper's answer is read (tests).
var joinAnsweredHook func()

// earlySignalGrace is how long a helper that has not answered yet gets, once strata is told to
// end, before strata ends it and itself: a command starts in milliseconds, and the signal then
// goes to it as any later one, but a helper stuck before its answer (a frozen cgroup, a hung
// FUSE mount in a privileged container) had strata wait for good, deaf to ^C and to
// timeout(1)'s SIGTERM, which it keeps for the command.
const earlySignalGrace = time.Second

// earlySignals is giveUpOnSignal's watch.
type earlySignals struct {
	c    chan os.Signal
	done chan struct{}
	mu   sync.Mutex
	sig  os.Signal // the signal the helper was ended for, if it was
}

// giveUpOnSignal watches for SIGINT, SIGTERM, SIGHUP and SIGQUIT until answered is called; if
// one comes and the helper still has not answered earlySignalGrace later, it kills helper.
// The signals still reach the command as well (runJoin's own catch buffers them).
func giveUpOnSignal(helper *os.Process) *earlySignals {
	e := &earlySignals{c: make(chan os.Signal, 4), done: make(chan struct{})}
	signal.Notify(e.c, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	go func() {
		var s os.Signal
		select {
		case s = <-e.c:
		case <-e.done:
			return
		}
		t := time.NewTimer(earlySignalGrace)
		defer t.Stop()
		select {
		case <-t.C:
			e.mu.Lock()
			e.sig = s
			e.mu.Unlock()
			_ = helper.Kill()
		case <-e.done:
		}
	}()
	return e
}

// answered ends the watch and returns the signal the helper was killed for, nil if none.
func (e *earlySignals) answered() os.Signal {
	if e.c != nil {
		signal.Stop(e.c)
	}
	close(e.done)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sig
}

// readAnswer reads the helper's one JSON line and the pty master that may ride along with it
// as SCM_RIGHTS.
func readAnswer(sock *os.File) (joinAnswer, *os.File, error) {
	var a joinAnswer
	var master *os.File
	var data []byte
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	fd := int(sock.Fd())
	for !bytes.Contains(data, []byte{'\n'}) {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return a, master, fmt.Errorf("reading helper's answer: %w", err)
		}
		if oobn > 0 {
			got, err := receivedFiles(oob[:oobn])
			if err != nil {
				return a, master, err
			}
			for _, f := range got {
				if master == nil {
					master = f
				} else {
					f.Close()
				}
			}
		}
		if n == 0 {
			if master != nil {
				master.Close()
			}
			return a, nil, errors.New("helper exited without an answer")
		}
		if data = append(data, buf[:n]...); len(data) > maxAnswer {
			break
		}
	}
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	if err := json.Unmarshal(line, &a); err != nil {
		if master != nil {
			master.Close()
		}
		return a, nil, fmt.Errorf("reading helper's answer: %w", err)
	}
	return a, master, nil
}

// receivedFiles turns SCM_RIGHTS control messages into files.
func receivedFiles(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("reading helper's answer: %w", err)
	}
	var out []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			out = append(out, os.NewFile(uintptr(fd), "pty-master"))
		}
	}
	return out, nil
}

// wait reaps the helper, drains the command's output and restores the user's terminal.
func (p *joinProc) wait() error {
	err := p.cmd.Wait()
	finishOutput(p.cancel, p.copies...)
	p.close()
	return err
}

// waitOrDetach is wait, unless the user types the detach keys first (terminal.detached):
// the terminal is then handed to the helper (handOver) and the user's restored, and it
// returns at once with detached true, the command and its helper running on.
func (p *joinProc) waitOrDetach(sock *os.File) (detached bool, err error) {
	if p.detached == nil {
		return false, p.wait()
	}
	waited := make(chan error, 1)
	go func() { waited <- p.wait() }()
	select {
	case err := <-waited:
		return false, err
	case <-p.detached:
	}
	p.handOver(sock)
	if p.restore != nil {
		p.restore()
	}
	return true, nil
}

// handOver sends the command's terminal to the helper, on the socket it answered on, as
// docker's daemon keeps an exec's terminal once its client has detached: the helper holds it
// open and reads it (receiveTerminal). Closed, the terminal would hang up and the command get
// SIGHUP; open and unread, it would block the command once its buffer filled. A helper gone
// (the command ended meanwhile) takes nothing, and nothing needs it.
//
// It returns once the helper says it holds the terminal and passes on no more signals, or
// after handOverWait: strata exiting next as a session leader (ssh -t, tmux, setsid) hangs up
// its process group, which the helper is in, and a SIGHUP that reached the helper before it
// had read the hand-over went on to the command, which died of it.
func (p *joinProc) handOver(sock *os.File) {
	rc, err := p.pty.SyscallConn()
	if err != nil {
		return
	}
	var sent error
	if err := rc.Control(func(fd uintptr) {
		sent = unix.Sendmsg(int(sock.Fd()), []byte{'d'}, unix.UnixRights(int(fd)), nil, 0)
	}); err != nil || sent != nil {
		return
	}
	fds := []unix.PollFd{{Fd: int32(sock.Fd()), Events: unix.POLLIN}}
	deadline := time.Now().Add(handOverWait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		var ack [1]byte
		_, _ = unix.Read(int(sock.Fd()), ack[:]) // the helper's byte, or its end
		return
	}
}

// handOverWait bounds handOver's wait for the helper's answer: a helper that cannot answer
// (the container paused meanwhile, its cgroup frozen) does not keep strata exec.
const handOverWait = 5 * time.Second

// closeChildEnds closes our copies of the child's ends of its output pipes.
func (p *joinProc) closeChildEnds() {
	for _, f := range p.childEnds {
		f.Close()
	}
	p.childEnds = nil
}
