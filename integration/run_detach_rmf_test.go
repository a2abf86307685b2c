package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestRunInteractiveRemovedForce: an rm -f of the container of a run -it ends the run with
// the status of the container it killed, 137, as docker's run (whose wait, started before its
// attach, reports the SIGKILL), whether the run reads the container's output or has stalled
// on its terminal meanwhile (its user scrolled back; the monitor, waiting for it, is killed by
// the rm): it exited 125, "its monitor closed the connection before the container's exit".
func TestRunInteractiveRemovedForce(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "rf-sh", "rf-yes") })

	s := startOnPty(t, root, 24, 80, "run", "-it", "--name", "rf-sh", "alpine", "sh")
	s.ask("echo up", "up")
	mustStrata(t, root, "rm", "-f", "rf-sh")
	if code := s.wait(); code != 137 || s.stderr.Len() != 0 {
		t.Errorf("run -it after rm -f = exit %d, stderr %q; want 137 and nothing", code, s.stderr.String())
	}
	s.cooked("run -it after rm -f")

	// The terminal is not read until the rm is done: the run's output stalls, and with it
	// the container and its monitor's end.
	s = startOnPtyStalled(t, root, 24, 80, "run", "-it", "--name", "rf-yes", "alpine", "yes")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strata(t, root, "inspect", "-f", "{{.State.Status}}", "rf-yes").Stdout == "running\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rf-yes never ran (stderr %q)", s.stderr.String())
		}
	}
	waitAsleep(t, root, "rf-yes", "yes") // its output fills the terminal, and the queues
	mustStrata(t, root, "rm", "-f", "rf-yes")
	s.drain()
	go func() {
		for range s.lines { // all of yes's
		}
	}()
	if code := s.wait(); code != 137 || s.stderr.Len() != 0 {
		t.Errorf("run -it whose terminal stalled, after rm -f = exit %d, stderr %q; want 137 and nothing", code, s.stderr.String())
	}
	s.cooked("run -it whose terminal stalled, after rm -f")

	// start -a, its output on a pipe not read meanwhile.
	mustStrata(t, root, "create", "--name", "rf-sa", "alpine", "yes")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "rf-sa") })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var stderr bytes.Buffer
	start := exec.CommandContext(ctx, strataBin, "--root", root, "start", "-a", "rf-sa")
	start.Stdout, start.Stderr = outW, &stderr
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	waitAsleep(t, root, "rf-sa", "yes")
	mustStrata(t, root, "rm", "-f", "rf-sa")
	_, _ = io.Copy(io.Discard, out)
	_ = start.Wait()
	if code := start.ProcessState.ExitCode(); code != 137 || stderr.Len() != 0 {
		t.Errorf("start -a whose reader stalled, after rm -f = exit %d, stderr %q; want 137 and nothing", code, stderr.String())
	}
}

// waitAsleep waits for the PID 1 of container name to be comm (the init has exec'd it) and
// to sleep in the kernel: a command that only copies (yes, cat) sleeps only when blocked on
// its output or input, a yes whose output is not read once the pipe or terminal and the
// queues between are full, a cat once it waits for input on a stdin that is open.
func waitAsleep(t *testing.T, root, name, comm string) {
	t.Helper()
	var pid string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if pid == "" || pid == "0" {
			pid = strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Pid}}", name).Stdout)
		}
		// The state follows the command's name, in parentheses.
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); err == nil && i > 0 && i+2 < len(stat) &&
			bytes.HasSuffix(stat[:i], []byte("("+comm)) && stat[i+2] == 'S' {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the PID 1 of %s (pid %q) is no %s sleeping on its input or output after 30 s: %q", name, pid, comm, stat)
		}
	}
}
