package integration

import (
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWaitInterrupted: Ctrl-C (or SIGTERM) on a `strata wait` ends it as docker's CLI ends
// one, quietly, with 128 and the signal's number (130, 143), and leaves the container
// running. It printed "waiting for container X: context canceled" and exited 1.
func TestWaitInterrupted(t *testing.T) {
	root := busyboxRoot(t)
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--name", "wi", "busybox:1.38.0-musl", "sleep", "600").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "wi") })
	for _, tt := range []struct {
		sig    syscall.Signal
		code   int
		args   []string
		stderr string
	}{
		{syscall.SIGINT, 130, []string{"wi"}, ""},
		{syscall.SIGTERM, 143, []string{"wi"}, ""},
		// The failures before the signal are still told, those it caused are not.
		{syscall.SIGINT, 130, []string{"wi-nosuch", "wi", "wi"}, "strata: wi-nosuch: no such container\n"},
	} {
		cmd := exec.Command(strataBin, append([]string{"--root", root, "wait"}, tt.args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		waitWaiting(t, root, id, cmd.Process.Pid)
		if err := cmd.Process.Signal(tt.sig); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("wait still running 10 s after %v", tt.sig)
		}
		if code := cmd.ProcessState.ExitCode(); code != tt.code || stdout.Len() > 0 || stderr.String() != tt.stderr {
			t.Errorf("wait %v ended by %v: exit %d, stdout %q, stderr %q; want exit %d and stderr %q, as docker", tt.args, tt.sig, code, stdout.String(), stderr.String(), tt.code, tt.stderr)
		}
	}
	if out := mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", "wi").Stdout; out != "running\n" {
		t.Errorf("container after the interrupted waits: %q, want running", out)
	}
}
