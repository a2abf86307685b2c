package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ptySession is a strata command run on a terminal as a user's shell runs it: its stdin and
// stdout the terminal (its controlling one, strata the foreground, as the kernel then
// signals it a resize), its stderr apart; the lines the terminal shows.
type ptySession struct {
	t      *testing.T
	cmd    *exec.Cmd
	user   *os.File // the terminal's master: what the user types, what the terminal shows
	tty    *os.File // its slave, kept open to read its settings once strata is done
	stderr bytes.Buffer
	lines  chan string
	seen   []string
}

// startOnPty starts strata with args on a new terminal of rows and cols.
func startOnPty(t *testing.T, root string, rows, cols uint16, args ...string) *ptySession {
	t.Helper()
	s := startOnPtyStalled(t, root, rows, cols, args...)
	s.drain()
	return s
}

// startOnPtyStalled is startOnPty with the terminal not read (a user scrolled back) until
// drain: what strata writes to it waits once the terminal's buffer is full.
func startOnPtyStalled(t *testing.T, root string, rows, cols uint16, args ...string) *ptySession {
	t.Helper()
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	t.Cleanup(func() { user.Close(); tty.Close() })
	if err := pty.Setsize(tty, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	s := &ptySession{t: t, user: user, tty: tty, lines: make(chan string, 256)}
	s.cmd = exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = tty, tty, &s.stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = s.cmd.Wait()
	})
	return s
}

// drain reads the terminal from now on, its lines for next and within.
func (s *ptySession) drain() {
	go func() {
		sc := bufio.NewScanner(s.user)
		for sc.Scan() {
			s.lines <- strings.TrimSpace(sc.Text())
		}
		close(s.lines)
	}()
}

// next waits for the line want on the terminal.
func (s *ptySession) next(want string) {
	s.t.Helper()
	if !s.within(want, 20*time.Second) {
		s.t.Fatalf("no %q on the terminal of %v; it showed %q (stderr %q)", want, s.cmd.Args[3:], s.seen, s.stderr.String())
	}
}

// within reports whether the line want shows within d.
func (s *ptySession) within(want string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return false
			}
			s.seen = append(s.seen, l)
			if l == want {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// ask types line (a shell command) until the terminal shows want: keys typed before strata
// has the terminal raw are the line discipline's.
func (s *ptySession) ask(line, want string) {
	s.t.Helper()
	for range 10 {
		s.typeKeys(line + "\r")
		if s.within(want, 2*time.Second) {
			return
		}
	}
	s.t.Fatalf("no %q on the terminal after %q; it showed %q (stderr %q)", want, line, s.seen, s.stderr.String())
}

func (s *ptySession) typeKeys(keys string) {
	if _, err := io.WriteString(s.user, keys); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for strata to exit, and returns its status.
func (s *ptySession) wait() int {
	_ = s.cmd.Wait()
	return s.cmd.ProcessState.ExitCode()
}

// cooked fails the test unless the terminal is out of raw mode (echo, lines, output
// processing): strata restored it.
func (s *ptySession) cooked(what string) {
	s.t.Helper()
	tio, err := unix.IoctlGetTermios(int(s.tty.Fd()), unix.TCGETS)
	if err != nil {
		s.t.Fatal(err)
	}
	if tio.Lflag&(unix.ECHO|unix.ICANON) != unix.ECHO|unix.ICANON || tio.Oflag&unix.OPOST == 0 {
		s.t.Errorf("%s: the terminal is left raw (lflag %#o, oflag %#o)", what, tio.Lflag, tio.Oflag)
	}
}

// running fails the test unless the container name runs.
func running(t *testing.T, root, name string) {
	t.Helper()
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", name).Stdout; out != "running\n" {
		t.Fatalf("%s is %q, want running", name, out)
	}
}

// TestRunInteractiveDetach plays docker run -it's detach: Ctrl-P Ctrl-Q leaves the
// container running, strata exits 0 with its terminal restored and says nothing (docker
// run's CLI takes the detach as a normal end), `strata attach` gets back in and exits with
// the container's status, which the container keeps. With --rm the container runs on once
// left, and is removed when it ends. --detach-keys names other keys (Ctrl-P Ctrl-Q then
// reach the container); a bad one is refused before anything is made.
func TestRunInteractiveDetach(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "rd-sh", "rd-rm") })

	s := startOnPty(t, root, 31, 97, "run", "-it", "--name", "rd-sh", "alpine", "sh")
	s.ask("echo size $(stty size)", "size 31 97")
	s.typeKeys("\x10\x11")
	if code := s.wait(); code != 0 || s.stderr.Len() != 0 {
		t.Errorf("run -it after Ctrl-P Ctrl-Q = exit %d, stderr %q; want 0 and nothing", code, s.stderr.String())
	}
	s.cooked("run -it after a detach")
	running(t, root, "rd-sh")
	if out := mustStrata(t, root, "inspect", "-f", "{{json .HostConfig.ConsoleSize}}", "rd-sh").Stdout; out != "[31,97]\n" {
		t.Errorf("inspect HostConfig.ConsoleSize = %q, want [31,97] (the terminal run -it had)", out)
	}

	a := startOnPty(t, root, 40, 120, "attach", "rd-sh")
	a.ask("echo back $(stty size)", "back 40 120")
	a.typeKeys("exit 5\r")
	if code := a.wait(); code != 5 {
		t.Errorf("attach after exit 5 = exit %d (stderr %q), want 5", code, a.stderr.String())
	}
	a.cooked("attach after the container's exit")
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "rd-sh").Stdout; out != "exited 5\n" {
		t.Errorf("rd-sh after its exit: %q, want exited 5", out)
	}

	s = startOnPty(t, root, 24, 80, "run", "-it", "--rm", "--detach-keys", "ctrl-x,y", "--name", "rd-rm", "alpine", "sh")
	s.ask("echo one", "one")
	// Docker's keys are no detach now: they reach the shell, which runs on.
	s.typeKeys("\x10\x11")
	s.ask("echo two", "two")
	s.typeKeys("\x18y")
	if code := s.wait(); code != 0 || s.stderr.Len() != 0 {
		t.Errorf("run -it --detach-keys ctrl-x,y after them = exit %d, stderr %q; want 0 and nothing", code, s.stderr.String())
	}
	s.cooked("run -it --rm after a detach")
	running(t, root, "rd-rm")
	a = startOnPty(t, root, 24, 80, "attach", "rd-rm")
	a.ask("echo three", "three")
	a.typeKeys("exit 3\r")
	if code := a.wait(); code != 3 {
		t.Errorf("attach to the --rm container after exit 3 = exit %d (stderr %q), want 3", code, a.stderr.String())
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if mustStrata(t, root, "ps", "-a", "-q", "--filter", "name=rd-rm").Stdout == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the --rm container left by run -it is still there after it ended")
		}
	}

	r := strata(t, root, "run", "-it", "--detach-keys", "ctrl-1", "--name", "rd-bad", "alpine", "true")
	if r.Code != 125 {
		t.Errorf("run --detach-keys ctrl-1 = exit %d, want 125", r.Code)
	}
	assertOneLineError(t, r.Stderr, `invalid --detach-keys "ctrl-1"`)
	if out := mustStrata(t, root, "ps", "-a", "-q", "--filter", "name=rd-bad").Stdout; out != "" {
		t.Errorf("run with bad detach keys made a container: %q", out)
	}
}

// TestRunInteractiveEnds: a run -it that is not left ends as a foreground run does: with
// its container's status (--rm: the container gone once strata returns), 126 and 127 with
// the init's error in a line for a command that cannot run, and with a signal strata gets
// passed on to the container (--sig-proxy, a terminal or not); its terminal restored each
// time.
func TestRunInteractiveEnds(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "re-kept") })

	s := startOnPty(t, root, 24, 80, "run", "-it", "--rm", "--name", "re-rm", "alpine", "sh")
	s.ask("echo up", "up")
	s.typeKeys("exit 9\r")
	if code := s.wait(); code != 9 {
		t.Errorf("run -it --rm after exit 9 = exit %d (stderr %q), want 9", code, s.stderr.String())
	}
	s.cooked("run -it --rm after its exit")
	if out := mustStrata(t, root, "ps", "-a", "-q", "--filter", "name=re-rm").Stdout; out != "" {
		t.Errorf("the --rm container is still there once run -it returned: %q", out)
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--rm", "alpine", "nosuch"}, 127, `exec: "nosuch": executable file not found in $PATH`},
		{[]string{"--rm", "alpine", "/etc/passwd"}, 126, `exec: "/etc/passwd": permission denied`},
		{[]string{"--name", "re-kept", "alpine", "nosuch"}, 127, `exec: "nosuch": executable file not found in $PATH`},
	} {
		s := startOnPty(t, root, 24, 80, append([]string{"run", "-it"}, tt.args...)...)
		if code := s.wait(); code != tt.code {
			t.Errorf("run -it %v = exit %d, want %d", tt.args, code, tt.code)
		}
		assertOneLineError(t, s.stderr.String(), "strata: run: "+tt.want)
		s.cooked("run -it of a command that cannot run")
	}
	if out := mustStrata(t, root, "ps", "-a", "--format", "{{.Names}} {{.Status}}").Stdout; out != "re-kept Created\n" {
		t.Errorf("after the failed runs, ps -a shows %q; want only re-kept, Created", out)
	}

	s = startOnPty(t, root, 24, 80, "run", "-it", "--rm", "alpine", "sh", "-c",
		`trap "echo got TERM; exit 4" TERM; echo ready; while :; do sleep 0.1; done`)
	s.next("ready")
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	s.next("got TERM")
	if code := s.wait(); code != 4 {
		t.Errorf("run -it after SIGTERM = exit %d (stderr %q), want the container's 4", code, s.stderr.String())
	}
	s.cooked("run -it after a signal")

	// --sig-proxy=false: the signal is strata's, which ends its attach as attach's does; the
	// container runs on.
	s = startOnPty(t, root, 24, 80, "run", "-it", "--sig-proxy=false", "--name", "re-np", "alpine", "sh", "-c",
		`trap "echo got TERM" TERM; echo ready; while :; do sleep 0.1; done`)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "re-np") })
	s.next("ready")
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(); code != 143 || s.stderr.Len() != 0 {
		t.Errorf("run -it --sig-proxy=false after SIGTERM = exit %d, stderr %q; want 143 and nothing", code, s.stderr.String())
	}
	s.cooked("run -it --sig-proxy=false after a signal")
	running(t, root, "re-np")
	if slices.Contains(s.seen, "got TERM") {
		t.Errorf("run -it --sig-proxy=false passed SIGTERM on: %q", s.seen)
	}
}

// TestRunInteractiveStalledReader: run -it with its output on a pipe whose reader stops for
// longer than the monitor's stall bound (`run -it ... | less`, less with its screen full)
// gets every line once the reader goes on, as a foreground run's output did: the container
// waits for it. The run's attach was dropped as a stalled `strata attach` is, and all that
// came after was lost. A `strata attach` beside it that never reads is dropped, and costs
// the run nothing.
func TestRunInteractiveStalledReader(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "rs-seq") })
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	defer tty.Close()
	go func() { _, _ = io.Copy(io.Discard, user) }()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	const lines = 1000000 // about 7 MB: far more than the pipes, sockets and queues between
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var stderr bytes.Buffer
	run := exec.CommandContext(ctx, strataBin, "--root", root, "run", "-it", "--name", "rs-seq", "alpine", "sh", "-c",
		"until [ -e /tmp/go ]; do echo wait; sleep 0.1; done; seq 1 "+strconv.Itoa(lines))
	run.Stdin, run.Stdout, run.Stderr = tty, outW, &stderr
	run.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	defer func() { _ = run.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strata(t, root, "inspect", "-f", "{{.State.Status}}", "rs-seq").Stdout == "running\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rs-seq never ran (stderr %q)", stderr.String())
		}
	}

	// A second attach: read until it shows the container's output, then never again.
	stalled, stalledW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	attach := exec.CommandContext(ctx, strataBin, "--root", root, "attach", "--no-stdin", "rs-seq")
	attach.Stdout, attach.Stderr = stalledW, io.Discard
	if err := attach.Start(); err != nil {
		t.Fatal(err)
	}
	stalledW.Close()
	defer func() { _ = attach.Wait() }()
	_ = stalled.SetReadDeadline(time.Now().Add(30 * time.Second))
	if line, err := bufio.NewReader(stalled).ReadString('\n'); err != nil || strings.TrimSpace(line) != "wait" {
		t.Fatalf("the second attach showed %q, %v; want the container's output", line, err)
	}

	// -d: the container ends once /tmp/go is there, which can kill a touch not yet
	// exited (exec 137, as docker's exec dies with its container).
	mustStrata(t, root, "exec", "-d", "rs-seq", "touch", "/tmp/go")
	time.Sleep(3 * time.Second) // the run's reader stalls, past the monitor's 2 s
	got, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Wait(); err != nil || stderr.Len() != 0 {
		t.Errorf("run -it = %v, stderr %q; want exit 0 and nothing", err, stderr.String())
	}
	n := 0
	for l := range strings.SplitSeq(strings.ReplaceAll(string(got), "\r\n", "\n"), "\n") {
		if l == "" || l == "wait" {
			continue
		}
		if n++; l != strconv.Itoa(n) {
			t.Fatalf("run -it whose reader stalled: line %d of its output is %q, want %d (lost from there)", n, l, n)
		}
	}
	if n != lines {
		t.Errorf("run -it whose reader stalled printed %d lines of the %d: the rest was lost", n, lines)
	}
	_ = stalled.SetReadDeadline(time.Time{})
	_, _ = io.Copy(io.Discard, stalled)
}

// TestStartStalledReader: start -ai, whose attach run -it's is, and start -a print every
// line of their container's output when their reader stalls for longer than the monitor's
// stall bound, as docker's start -a and -ai (whose attach streams hold the container up) do:
// start -ai lost all that came after the stall, and start -a, which followed the log, what
// a rotation (max-size) took away before it read it. start -a of a --log-driver none
// container prints its output: it printed an error.
func TestStartStalledReader(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ss-seq") })
	const lines = 500000
	mustStrata(t, root, "create", "-i", "--log-opt", "max-size=100k", "--log-opt", "max-file=2", "--name", "ss-seq",
		"alpine", "seq", "1", strconv.Itoa(lines))
	for _, flag := range []string{"-ai", "-a"} {
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		out, outW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		start := exec.CommandContext(ctx, strataBin, "--root", root, "start", flag, "ss-seq")
		start.Stdout, start.Stderr = outW, &stderr
		if err := start.Start(); err != nil {
			t.Fatal(err)
		}
		outW.Close()
		time.Sleep(3 * time.Second) // the reader stalls, past the monitor's 2 s
		got, _ := io.ReadAll(out)
		out.Close()
		if err := start.Wait(); err != nil || stderr.Len() != 0 {
			t.Errorf("start %s = %v, stderr %q; want exit 0 and nothing", flag, err, stderr.String())
		}
		cancel()
		want := strings.Builder{}
		for i := 1; i <= lines; i++ {
			want.WriteString(strconv.Itoa(i) + "\n")
		}
		if string(got) != want.String() {
			t.Errorf("start %s whose reader stalled printed %d bytes, want the %d of all %d lines", flag, len(got), want.Len(), lines)
		}
	}

	// Its output comes through the attach: once it shows the first line, it is attached.
	mustStrata(t, root, "create", "--log-driver", "none", "--name", "ss-none", "alpine", "sh", "-c",
		"echo first; until [ -e /tmp/go ]; do sleep 0.05; done; echo no log")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ss-none") })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	start := exec.CommandContext(ctx, strataBin, "--root", root, "start", "-a", "ss-none")
	start.Stdout, start.Stderr = outW, &stderr
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	r := bufio.NewReader(out)
	if line, err := r.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("start -a of a --log-driver none container printed %q, %v (stderr %q)", line, err, stderr.String())
	}
	// -d: the container ends once /tmp/go is there, which can kill a touch not yet
	// exited (exec 137, as docker's exec dies with its container).
	mustStrata(t, root, "exec", "-d", "ss-none", "touch", "/tmp/go")
	_, _ = io.Copy(&stdout, r)
	if err := start.Wait(); err != nil || stdout.String() != "no log\n" || stderr.Len() != 0 {
		t.Errorf("start -a of a --log-driver none container = %v, then stdout %q, stderr %q; want 0, its output", err, stdout.String(), stderr.String())
	}
}

// TestStartAttachOutputClosed: start -a whose output's reader has gone (`start -a c | head
// -1`) ends with the write's error, as when it followed the log, and leaves the container
// running: its attach read and dropped the output for as long as the container ran.
func TestStartAttachOutputClosed(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "sc-yes") })
	mustStrata(t, root, "create", "--name", "sc-yes", "alpine", "yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	start := exec.CommandContext(ctx, strataBin, "--root", root, "start", "-a", "sc-yes")
	start.Stdout, start.Stderr = outW, &stderr
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "y\n" {
		t.Fatalf("start -a sc-yes printed %q, %v", line, err)
	}
	out.Close()
	_ = start.Wait()
	if code := start.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("start -a once its output's reader had gone = exit %d, stderr %q; want 1, broken pipe", code, stderr.String())
	}
	running(t, root, "sc-yes")
}

// TestRunInteractiveNoProxyKilled: a run -it --sig-proxy=false (or an attach with a
// terminal, which passes no signal on) that a signal it does not pass on would end (SIGQUIT,
// SIGHUP, SIGUSR1) ends its attach as SIGINT and SIGTERM do: its terminal restored, exit
// 128+n, the container running on. strata died of them with the terminal left raw (SIGQUIT
// with a goroutine dump), where a foreground run -it --sig-proxy=false caught them.
func TestRunInteractiveNoProxyKilled(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "rk-np") })
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGHUP} {
		args := []string{"run", "-it", "--sig-proxy=false", "--name", "rk-np", "alpine", "sh", "-c",
			`trap "echo got signal" QUIT USR1 HUP; echo ready; while :; do sleep 0.1; done`}
		if sig != syscall.SIGQUIT {
			args = []string{"attach", "rk-np"}
		}
		s := startOnPty(t, root, 24, 80, args...)
		if sig == syscall.SIGQUIT {
			s.next("ready")
		} else {
			// Once attached: its terminal is raw.
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				tio, err := unix.IoctlGetTermios(int(s.tty.Fd()), unix.TCGETS)
				if err == nil && tio.Lflag&unix.ICANON == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("attach did not make its terminal raw")
				}
			}
		}
		_ = s.cmd.Process.Signal(sig)
		if code := s.wait(); code != 128+int(sig) || s.stderr.Len() != 0 {
			t.Errorf("%s after %v = exit %d, stderr %.300q; want %d and nothing", args[0], sig, code, s.stderr.String(), 128+int(sig))
		}
		s.cooked(fmt.Sprintf("%s after %v", args[0], sig))
		running(t, root, "rk-np")
	}
}

// TestAttachSignalAsRaw: a signal that comes the moment attach has made its terminal raw ends
// it with 128+n and the terminal restored, as one that comes later: attach made the terminal
// raw before it caught the signals, and a SIGHUP in between killed it with the terminal raw
// (exit -1). The signal is sent as soon as the terminal is seen raw, many times over.
func TestAttachSignalAsRaw(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "as-raw") })
	strata(t, root, "run", "-dit", "--name", "as-raw", "alpine", "sh", "-c", "while :; do sleep 1; done")
	for i := 0; i < 15; i++ {
		s := startOnPty(t, root, 24, 80, "attach", "as-raw")
		for deadline := time.Now().Add(20 * time.Second); ; {
			tio, err := unix.IoctlGetTermios(int(s.tty.Fd()), unix.TCGETS)
			if err == nil && tio.Lflag&unix.ICANON == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("attach did not make its terminal raw")
			}
		}
		_ = s.cmd.Process.Signal(syscall.SIGHUP)
		if code := s.wait(); code != 128+int(syscall.SIGHUP) {
			t.Fatalf("attach %d, SIGHUP as its terminal went raw = exit %d, stderr %.300q; want %d", i, code, s.stderr.String(), 128+int(syscall.SIGHUP))
		}
		s.cooked(fmt.Sprintf("attach %d after SIGHUP", i))
	}
	running(t, root, "as-raw")
}
