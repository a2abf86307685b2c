package integration

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAttachedAcrossRestart: a `start -a`, a `wait` and a `logs -f` on a running container
// that a `restart` stops and starts again end at that stop, as docker's do (start -a and wait
// with the exit code of the run they saw end, 7 here; logs -f once that run's output is
// printed). Which of them ended, and with which code, depended on timing: a start -a or wait
// that read the state while the restart's start had it created ended with exit 0, one that
// read it once the new run was recorded stayed attached to that run, and logs -f followed the
// new run whenever its poll missed the stop.
func TestAttachedAcrossRestart(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	// "run" says the trap is set: a start returns once sh runs, and a SIGTERM before its trap
	// (PID 1 drops it) left the restart to a SIGKILL at its timeout, exit 137.
	id := strings.TrimSpace(mustStrata(t, root, "run", "-d", "--name", "ar", img, "sh", "-c", `trap "exit 7" TERM; echo run; while :; do sleep 0.1; done`).Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "ar") })
	for i := range 6 {
		for deadline := time.Now().Add(30 * time.Second); strings.Count(mustStrata(t, root, "logs", "ar").Stdout, "run\n") < i+1; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the run never said run", i)
			}
		}
		type attached struct {
			name           string
			cmd            *exec.Cmd
			stdout, stderr bytes.Buffer
			done           chan struct{}
		}
		var all []*attached
		for _, args := range [][]string{{"start", "-a", "ar"}, {"wait", "ar"}, {"logs", "-f", "ar"}} {
			a := &attached{name: strings.Join(args, " "), done: make(chan struct{})}
			a.cmd = exec.Command(strataBin, append([]string{"--root", root}, args...)...)
			a.cmd.Stdout, a.cmd.Stderr = &a.stdout, &a.stderr
			if err := a.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { a.cmd.Wait(); close(a.done) }()
			all = append(all, a)
		}
		// Attached: each holds the container's dir as the run's waiter (holdDirAsWaiter). A
		// sleep of 400 ms was too short on a busy machine, and one that came after the stop
		// followed the next run.
		for _, a := range all {
			waitFlocked(t, a.cmd.Process.Pid, filepath.Join(root, "containers", id))
		}
		began := time.Now()
		mustStrata(t, root, "restart", "-t", "30", "ar")
		if d := time.Since(began); d > 20*time.Second {
			t.Errorf("round %d: restart took %v: the trap's exit was not seen", i, d)
		}
		for _, a := range all {
			select {
			case <-a.done:
			case <-time.After(30 * time.Second):
				a.cmd.Process.Kill()
				<-a.done
				t.Errorf("round %d: %s still attached 30 s after the restart, following the next run", i, a.name)
				continue
			}
			code := a.cmd.ProcessState.ExitCode()
			switch a.name {
			case "start -a ar":
				if code != 7 {
					t.Errorf("round %d: start -a across a restart exited %d (stderr %q), want the stopped run's 7", i, code, a.stderr.String())
				}
			case "wait ar":
				if code != 0 || a.stdout.String() != "7\n" {
					t.Errorf("round %d: wait across a restart: exit %d, stdout %q, stderr %q; want 7, as docker", i, code, a.stdout.String(), a.stderr.String())
				}
			default:
				if code != 0 || a.stdout.String() != strings.Repeat("run\n", i+1) {
					t.Errorf("round %d: logs -f across a restart: exit %d, stdout %q; want the %d runs' lines so far and its end at the stop", i, code, a.stdout.String(), i+1)
				}
			}
		}
	}
	if out := strata(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ar").Stdout; out != "running 0\n" {
		t.Errorf("inspect after the restarts = %q, want running 0", out)
	}
}
