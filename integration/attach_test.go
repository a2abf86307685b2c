package integration

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// attached is a running `strata attach`: its stdin, and the lines of its stdout and stderr.
type attached struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    chan string
	err    chan string
	done   chan struct{}
	seen   []string
	cancel context.CancelFunc
}

// startAttach starts strata attach with args, its stdin a pipe and its output read by line.
func startAttach(t *testing.T, root string, args ...string) *attached {
	t.Helper()
	return startStrata(t, root, append([]string{"attach"}, args...)...)
}

// startStrata starts strata with args, its stdin a pipe and its output read by line.
func startStrata(t *testing.T, root string, args ...string) *attached {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, strataBin, append([]string{"--root", root}, args...)...)
	a := &attached{t: t, cmd: cmd, out: make(chan string, 64), err: make(chan string, 64), done: make(chan struct{}), cancel: cancel}
	var err error
	if a.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := func(r io.Reader, c chan string) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c <- sc.Text()
		}
		close(c)
	}
	go lines(stdout, a.out)
	go lines(stderr, a.err)
	t.Cleanup(func() {
		cancel()
		a.wait()
	})
	return a
}

// next waits for the line want on c.
func (a *attached) next(c chan string, want string) {
	a.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-c:
			if !ok {
				a.t.Fatalf("attach's output ended before %q; it showed %q", want, a.seen)
			}
			a.seen = append(a.seen, l)
			if l == want {
				return
			}
		case <-timeout:
			var stderr []string
			for len(a.err) > 0 {
				stderr = append(stderr, <-a.err)
			}
			a.t.Fatalf("no %q from %v; it showed %q (stderr %q)", want, a.cmd.Args[3:], a.seen, stderr)
		}
	}
}

// saw reports whether the line want came on c, by now or within 200 ms.
func (a *attached) saw(c chan string, want string) bool {
	return a.sawWithin(c, want, 200*time.Millisecond)
}

// sawWithin reports whether the line want came on c, by now or within d.
func (a *attached) sawWithin(c chan string, want string, d time.Duration) bool {
	if slices.Contains(a.seen, want) {
		return true
	}
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-c:
			if !ok {
				return false
			}
			a.seen = append(a.seen, l)
			if l == want {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// wait waits for attach to exit and returns its status and the rest of its stderr.
func (a *attached) wait() (int, string) {
	var rest []string
	for l := range a.err {
		rest = append(rest, l)
	}
	for range a.out {
	}
	_ = a.cmd.Wait()
	return a.cmd.ProcessState.ExitCode(), strings.Join(rest, "\n")
}

// TestAttach plays docker attach on detached containers: the container's output reaches every
// attached client on its own stream and the input of one reaches its stdin (-i); attach exits
// with the container's status; --no-stdin sends none; without -t the detach keys (Ctrl-P
// Ctrl-Q, or --detach-keys) are passed on, as docker's; a stopped
// container, an unknown one and bad keys are refused in a line.
func TestAttach(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := []string{"at-io", "at-cat"}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })

	mustStrata(t, root, "run", "-di", "--name", "at-io", "alpine", "sh", "-c",
		`while read l; do echo "out $l"; echo "err $l" >&2; [ "$l" = quit ] && exit 5; done`)
	watcher := startAttach(t, root, "--no-stdin", "at-io")
	typist := startAttach(t, root, "at-io")
	// The watcher's stdin is not the container's: what it is given goes nowhere.
	_, _ = io.WriteString(watcher.stdin, "ignored\n")
	// Each has come once it sees what the typist sends after it did.
	for i := 0; !watcher.saw(watcher.out, "out ping") || !typist.saw(typist.out, "out ping"); i++ {
		if i == 100 {
			t.Fatalf("the attach clients never showed the container's output: %q, %q", watcher.seen, typist.seen)
		}
		_, _ = io.WriteString(typist.stdin, "ping\n")
	}
	_, _ = io.WriteString(typist.stdin, "one\n")
	typist.next(typist.out, "out one")
	typist.next(typist.err, "err one")
	watcher.next(watcher.out, "out one")
	watcher.next(watcher.err, "err one")
	_, _ = io.WriteString(typist.stdin, "quit\n")
	for name, a := range map[string]*attached{"typist": typist, "watcher": watcher} {
		if code, stderr := a.wait(); code != 5 {
			t.Errorf("attach (%s) = exit %d (stderr %q), want the container's 5", name, code, stderr)
		}
		for _, l := range a.seen {
			if strings.Contains(l, "ignored") {
				t.Errorf("attach --no-stdin passed its input on: %q", a.seen)
			}
		}
	}
	r := strata(t, root, "attach", "at-io")
	if r.Code != 1 {
		t.Errorf("attach to an exited container = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "you cannot attach to a stopped container, start it first")
	r = strata(t, root, "attach", "nosuch")
	if r.Code != 1 {
		t.Errorf("attach nosuch = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "nosuch: no such container")

	// Started again, it serves attach again.
	mustStrata(t, root, "start", "at-io")
	again := startAttach(t, root, "at-io")
	_, _ = io.WriteString(again.stdin, "two\nquit\n")
	again.next(again.out, "out two")
	if code, _ := again.wait(); code != 5 {
		t.Errorf("attach after a start = exit %d, want 5", code)
	}

	// Without -t the detach keys are no detach, as docker's (its CLI and daemon read them
	// only with a terminal): they reach cat, and the attach goes on.
	mustStrata(t, root, "run", "-di", "--name", "at-cat", "alpine", "cat")
	for _, tt := range []struct {
		flags []string
		keys  string
	}{
		{nil, "\x10\x11"},
		{[]string{"--detach-keys", "ctrl-x,y"}, "\x18y"},
	} {
		a := startAttach(t, root, append(tt.flags, "at-cat")...)
		_, _ = io.WriteString(a.stdin, "line\n"+tt.keys+"\n")
		a.next(a.out, "line")
		a.next(a.out, tt.keys)
		_, _ = io.WriteString(a.stdin, "still\n")
		a.next(a.out, "still")
		a.cancel() // strata killed: the container runs on
		if code, _ := a.wait(); code != -1 {
			t.Errorf("attach %v of a container without -t, killed = exit %d, want killed", tt.flags, code)
		}
		if out := mustStrata(t, root, "ps", "-q", "--filter", "name=at-cat").Stdout; out == "" {
			t.Fatalf("at-cat is not running after its attach was killed")
		}
	}
	r = strata(t, root, "attach", "--detach-keys", "ctrl-1", "at-cat")
	if r.Code != 1 {
		t.Errorf("attach --detach-keys ctrl-1 = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, `invalid --detach-keys "ctrl-1"`)

	// rm -f of the container ends its attach with the kill's status, as docker's.
	a := startAttach(t, root, "at-cat")
	_, _ = io.WriteString(a.stdin, "still here\n")
	a.next(a.out, "still here")
	mustStrata(t, root, "rm", "-f", "at-cat")
	if code, stderr := a.wait(); code != 137 {
		t.Errorf("attach when the container is removed = exit %d (stderr %q), want 137", code, stderr)
	}
}

// TestAttachSignals: with --sig-proxy (the default) a signal to strata attach goes to the
// container, which decides what to do with it; with --sig-proxy=false it ends the attach
// only, the container runs on.
func TestAttachSignals(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "at-sig") })
	mustStrata(t, root, "run", "-d", "--name", "at-sig", "alpine", "sh", "-c",
		`trap "echo got TERM; exit 3" TERM; while :; do echo tick; sleep 0.1; done`)

	a := startAttach(t, root, "--sig-proxy=false", "at-sig")
	a.next(a.out, "tick")
	_ = a.cmd.Process.Signal(syscall.SIGINT)
	if code, _ := a.wait(); code != 130 {
		t.Errorf("attach --sig-proxy=false after SIGINT = exit %d, want 130", code)
	}
	if out := mustStrata(t, root, "ps", "-q", "--filter", "name=at-sig").Stdout; out == "" {
		t.Fatalf("at-sig stopped when an attach without --sig-proxy was interrupted")
	}

	a = startAttach(t, root, "at-sig")
	a.next(a.out, "tick")
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	a.next(a.out, "got TERM")
	if code, _ := a.wait(); code != 3 {
		t.Errorf("attach after SIGTERM = exit %d, want the container's 3", code)
	}
}

// TestAttachTerminal plays a user at a terminal attaching to a `run -dit` shell: keys reach
// the shell through the container's terminal, the user's terminal size becomes its size,
// and Ctrl-P Ctrl-Q detaches with the shell still running.
func TestAttachTerminal(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "at-tty") })
	mustStrata(t, root, "run", "-dit", "--name", "at-tty", "alpine", "sh")

	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	defer user.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 33, Cols: 101}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, "--root", root, "attach", "at-tty")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(user)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
	}()
	a := &attached{t: t, cmd: cmd}
	// The size arrives with the attach: asked until the shell answers with it (a first
	// answer may come before the attach's resize does, or from a stty that ran as the shell
	// set its terminal up).
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, _ = io.WriteString(user, "echo size $(stty size)\r")
		if a.sawWithin(lines, "size 33 101", 2*time.Second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"size 33 101\" from the attached shell; it showed %q", a.seen)
		}
	}
	if err := pty.Setsize(user, &pty.Winsize{Rows: 44, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _ = io.WriteString(user, "echo size $(stty size)\r")
		got := ""
		for got == "" {
			select {
			case l := <-lines:
				if strings.HasPrefix(l, "size ") {
					got = l
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no answer from the shell after a resize")
			}
		}
		if got == "size 44 120" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's terminal is %q after the user's became 44 120", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _ = io.WriteString(user, "\x10\x11")
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("attach after Ctrl-P Ctrl-Q = exit %d, want 1 (docker attach's read escape sequence)", code)
	}
	if out := mustStrata(t, root, "ps", "-q", "--filter", "name=at-tty").Stdout; out == "" {
		t.Fatalf("at-tty is not running after a detach")
	}
	// Attaching its stdin to a terminal container wants a terminal to read keys from.
	r := strata(t, root, "attach", "at-tty")
	if r.Code != 1 {
		t.Errorf("attach of a -t container from a pipe = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "the input device is not a TTY")
	// Before a bad --detach-keys, as docker's CLI checks the terminal before its daemon
	// reads the keys.
	r = strata(t, root, "attach", "--detach-keys", "ctrl-", "at-tty")
	if r.Code != 1 {
		t.Errorf("attach --detach-keys ctrl- of a -t container from a pipe = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "the input device is not a TTY")
}

// TestStartInteractive plays docker start -ai: the container's output from its start on
// (none of it lost to the attach that comes after the start), the user's input to its stdin,
// its status as strata's; a container that ends at once still shows its output; a --rm one
// is removed after; start -ai of a running container attaches to it.
func TestStartInteractive(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := []string{"si-echo", "si-fast", "si-rm", "si-run"}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })

	mustStrata(t, root, "create", "-i", "--name", "si-echo", "alpine", "sh", "-c",
		`echo first; while read l; do echo "got $l"; [ "$l" = q ] && exit 4; done`)
	for i := 0; i < 3; i++ {
		a := startInteractiveCmd(t, root, "si-echo")
		a.next(a.out, "first")
		_, _ = io.WriteString(a.stdin, "a\nq\n")
		a.next(a.out, "got a")
		a.next(a.out, "got q")
		if code, stderr := a.wait(); code != 4 {
			t.Errorf("start -ai si-echo (#%d) = exit %d (stderr %q), want 4", i+1, code, stderr)
		}
	}

	// Started again as soon as it ended: the attach may meet the last start's monitor as it
	// ends, and still shows this start's output.
	mustStrata(t, root, "create", "--name", "si-fast", "alpine", "echo", "fast")
	for i := 0; i < 10; i++ {
		if r := strata(t, root, "start", "-ai", "si-fast"); r.Code != 0 || r.Stdout != "fast\n" {
			t.Errorf("start -ai si-fast (#%d) = exit %d, stdout %q, stderr %q; want 0, fast", i+1, r.Code, r.Stdout, r.Stderr)
		}
	}

	mustStrata(t, root, "create", "-i", "--rm", "--name", "si-rm", "alpine", "sh", "-c", `read l; echo "read $l"`)
	a := startInteractiveCmd(t, root, "si-rm")
	_, _ = io.WriteString(a.stdin, "x\n")
	a.next(a.out, "read x")
	if code, _ := a.wait(); code != 0 {
		t.Errorf("start -ai of a --rm container = exit %d, want 0", code)
	}
	if out := mustStrata(t, root, "ps", "-a", "-q", "--filter", "name=si-rm").Stdout; out != "" {
		t.Errorf("the --rm container is still listed after start -ai: %q", out)
	}

	mustStrata(t, root, "run", "-di", "--name", "si-run", "alpine", "sh", "-c", `read l; echo "read $l"; exit 6`)
	a = startInteractiveCmd(t, root, "si-run")
	_, _ = io.WriteString(a.stdin, "y\n")
	a.next(a.out, "read y")
	if code, _ := a.wait(); code != 6 {
		t.Errorf("start -ai of a running container = exit %d, want its 6", code)
	}
}

// startInteractiveCmd starts `strata start -ai name` as startAttach starts attach.
func startInteractiveCmd(t *testing.T, root, name string) *attached {
	t.Helper()
	return startStrata(t, root, "start", "-ai", name)
}

// TestAttachTerminalNoStdin: attaching to a -t container without -i from a pipe is refused as
// docker's CLI refuses it (its check asks for a terminal whenever stdin is not --no-stdin);
// with --no-stdin it attaches.
func TestAttachTerminalNoStdin(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "at-tnoi") })
	// It says bye until told to end (USR1, trapped before it speaks): it said it once, after
	// a sleep of 2 s, which a busy machine spent before the second attach came, and that
	// attach then showed nothing.
	mustStrata(t, root, "run", "-dt", "--name", "at-tnoi", "alpine", "sh", "-c", `trap "exit 0" USR1; while :; do echo bye; sleep 0.1; done`)
	r := strata(t, root, "attach", "at-tnoi")
	if r.Code != 1 {
		t.Errorf("attach of a -t container (no -i) from a pipe = exit %d, want 1", r.Code)
	}
	assertOneLineError(t, r.Stderr, "the input device is not a TTY")
	a := startAttach(t, root, "--no-stdin", "at-tnoi")
	a.next(a.out, "bye")
	mustStrata(t, root, "kill", "-s", "USR1", "at-tnoi")
	if code, stderr := a.wait(); code != 0 || stderr != "" {
		t.Errorf("attach --no-stdin = exit %d, stderr %q; want 0", code, stderr)
	}
}

// TestStartAttachRestarting: start -a and start -ai of a container in its restart backoff
// are refused in docker's words (its CLI attaches first, and the daemon refuses to attach to a
// restarting container), where they ended at once with nothing shown and the last run's
// status; one that goes into its backoff only as it is started still shows that run's output
// and ends with its status.
func TestStartAttachRestarting(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "at-rs") })
	mustStrata(t, root, "run", "-d", "--name", "at-rs", "--restart", "always", "alpine", "sh", "-c", "echo hi; sleep 0.3; exit 3")
	for i, args := range [][]string{{"start", "-a", "at-rs"}, {"start", "-ai", "at-rs"}} {
		// In a backoff of 3.2 s or more, each its own (its 6th, then 7th): the first ones,
		// 0.1 to 0.4 s, could end before the start came on a busy machine, which then
		// attached to the next run (exit 3 and its hi).
		waitRestarted(t, root, "at-rs", 6+i, "restarting")
		r := strata(t, root, args...)
		if r.Code != 1 || r.Stdout != "" {
			t.Errorf("%v of a restarting container = exit %d, stdout %q; want 1 and nothing", args, r.Code, r.Stdout)
		}
		assertOneLineError(t, r.Stderr, "container is restarting, wait until the container is running")
	}
	mustStrata(t, root, "stop", "-t", "1", "at-rs")
	r := strata(t, root, "start", "-a", "at-rs")
	if r.Code != 3 || r.Stdout != "hi\n" || r.Stderr != "" {
		t.Errorf("start -a of a stopped crash-looping container = exit %d, stdout %q, stderr %q; want 3 and hi", r.Code, r.Stdout, r.Stderr)
	}
}
