package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestAttachInputEndsOutput: the end of `strata attach`'s input ends what it shows of the
// container's output, for a container whose stdin that end does not close (run -d -i: not
// StdinOnce; or -t), as docker's daemon closes an attach's output once its input has ended:
// the attach then waits for the container to end and exits with its status, as docker's CLI
// does, and the container runs on, its stdin open to the others. strata went on showing the
// output until the container ended. A watcher attached beside it still sees all.
func TestAttachInputEndsOutput(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ie-pipe", "ie-tty") })

	mustStrata(t, root, "run", "-di", "--name", "ie-pipe", "alpine", "sh", "-c", `while read x; do echo "got $x"; done`)
	b := startAttach(t, root, "ie-pipe")
	_, _ = io.WriteString(b.stdin, "zero\n")
	b.next(b.out, "got zero") // b is attached
	a := startAttach(t, root, "ie-pipe")
	_, _ = io.WriteString(a.stdin, "one\n")
	a.next(a.out, "got one")
	b.next(b.out, "got one")
	a.stdin.Close()
	// Until a has read the end of its input it may show a line; from then on none: lines
	// through b are sent until one is not shown (no outside sign says when a has read it).
	if !probeEnded(t, func(i int) string {
		line := fmt.Sprintf("two %d", i)
		_, _ = io.WriteString(b.stdin, line+"\n")
		b.next(b.out, "got "+line) // the container's stdin is open, and it runs on
		return "got " + line
	}, a) {
		t.Errorf("attach showed the container's output after its input ended (%q); docker's ends it", a.seen)
	}
	exitedEarly := func(a *attached, what string) {
		t.Helper()
		select {
		case _, open := <-a.out:
			if !open {
				t.Errorf("%s returned before the container ended; docker's waits for its end", what)
			}
		default:
		}
	}
	exitedEarly(a, "attach whose input ended")
	running(t, root, "ie-pipe")
	mustStrata(t, root, "rm", "-f", "ie-pipe")
	if code, stderr := a.wait(); code != 137 || stderr != "" {
		t.Errorf("attach whose input ended, once the container was removed = exit %d, stderr %q; want 137 and nothing", code, stderr)
	}
	if code, _ := b.wait(); code != 137 {
		t.Errorf("the watcher attach, once the container was removed = exit %d, want 137", code)
	}

	// -t: the input ends when the user's terminal does (hung up: its reads fail), and
	// the output with it, as docker's daemon closes a Tty attach's output at its input's end.
	mustStrata(t, root, "run", "-dit", "--name", "ie-tty", "alpine", "sh", "-c", "while :; do echo tick; sleep 0.2; done")
	user, tty, err := pty.Open()
	if err != nil {
		t.Skipf("skipping: no pty on this machine: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, "--root", root, "attach", "ie-tty")
	cmd.Stdin = tty // its output on pipes, which stay open as the terminal goes
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
	tty.Close()
	tt := &attached{t: t, cmd: cmd, out: make(chan string, 256), err: make(chan string, 64)}
	lines := func(r io.Reader, c chan string) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c <- strings.TrimSpace(sc.Text())
		}
		close(c)
	}
	go lines(stdout, tt.out)
	go lines(stderr, tt.err)
	t.Cleanup(func() { cancel(); tt.wait() })
	tt.next(tt.out, "tick")
	user.Close() // the terminal hangs up
	// What came before the attach read the end is shown; a tick that comes after is not.
	if !probeEnded(t, func(int) string {
		for len(tt.out) > 0 {
			<-tt.out
		}
		tt.seen = nil
		return "tick"
	}, tt) {
		t.Errorf("attach to a -t container showed its output after its terminal hung up (%q); docker's ends it", tt.seen)
	}
	exitedEarly(tt, "attach to a -t container whose input ended")
	running(t, root, "ie-tty")
	mustStrata(t, root, "rm", "-f", "ie-tty")
	if code, _ := tt.wait(); code != 137 {
		t.Errorf("attach to a -t container whose input ended, once removed = exit %d, want 137", code)
	}
}

// probeEnded says whether a's output has ended: probe makes the container write a line (or
// names one it writes on its own), which a must not show within 2 s. An attach that has not
// yet read the end of its input shows the first ones: probes are made for up to 20 s (a
// loaded machine took more than 1 s to have a read it).
func probeEnded(t *testing.T, probe func(i int) string, a *attached) bool {
	t.Helper()
	for i, deadline := 0, time.Now().Add(20*time.Second); time.Now().Before(deadline); i++ {
		if !a.sawWithin(a.out, probe(i), 2*time.Second) {
			if i > 0 {
				t.Logf("the attach showed %d probes after the end of its input", i)
			}
			return true
		}
	}
	return false
}
