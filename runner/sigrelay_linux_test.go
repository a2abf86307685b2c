package runner

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// relayChildEnv makes the test binary run relayChild instead of the tests: the relay is
// process-wide and the signals go to the whole process, so its test has a process of its own.
const relayChildEnv = "STRATA_TEST_SIGNAL_RELAY"

func init() {
	if os.Getenv(relayChildEnv) == "1" {
		relayChild()
	}
}

// relayChild checks the relay in a fresh process and exits 0, or 1 with what failed; its
// last step is a SIGHUP nobody takes, which should end it as SIGHUP's default does.
func relayChild() {
	fail := func(msg string) {
		os.Stderr.WriteString(msg + "\n")
		os.Exit(1)
	}
	receive := func(s *signalCatcher, want os.Signal) {
		select {
		case got := <-s.c:
			if got != want {
				fail("caught " + got.String() + ", want " + want.String())
			}
		case <-time.After(10 * time.Second):
			fail("no " + want.String() + " caught within 10 s")
		}
	}
	first, second := catchSignals(), catchSignals()
	<-first.ready
	_ = unix.Kill(os.Getpid(), unix.SIGUSR1)
	receive(first, unix.SIGUSR1)
	receive(second, unix.SIGUSR1)
	first.stop()
	_ = unix.Kill(os.Getpid(), unix.SIGUSR2)
	receive(second, unix.SIGUSR2)
	if len(first.c) != 0 {
		fail("a stopped catcher still got a signal")
	}
	second.stop()
	// Nobody takes it: the defaults come back, and SIGWINCH's is to ignore it.
	_ = unix.Kill(os.Getpid(), unix.SIGWINCH)
	for relayCatching() {
		time.Sleep(time.Millisecond)
	}
	third := catchSignals()
	<-third.ready
	_ = unix.Kill(os.Getpid(), unix.SIGUSR1)
	receive(third, unix.SIGUSR1)
	third.stop()
	_ = unix.Kill(os.Getpid(), unix.SIGHUP)
	time.Sleep(10 * time.Second)
	fail("still alive 10 s after a SIGHUP nobody caught")
}

// relayCatching reports whether the relay still catches the forwarded signals.
func relayCatching() bool {
	relay.mu.Lock()
	defer relay.mu.Unlock()
	return relay.in != nil
}

// TestSignalRelay: the forwarded signals reach every catcher there is and no stopped one;
// with none left, the next signal brings back their defaults (SIGWINCH ignored, a new
// catcher catches them again, and a SIGHUP ends the process).
func TestSignalRelay(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), relayChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the relay's process: %v, want it ended by SIGHUP; output:\n%s", err, out)
	}
	ws := exit.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGHUP {
		t.Fatalf("the relay's process ended with %v, want SIGHUP; output:\n%s", exit, out)
	}
}
