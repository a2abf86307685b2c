package integration

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPauseSignalNotStopSignal sends a paused container a signal that is not its stop signal,
// by kill and through a foreground run's --sig-proxy, and checks what docker does: its kill
// (which its CLI's proxy calls too) resumes a paused container for SIGKILL and for the stop
// signal, or for any signal when the container names no stop signal; for another, the
// container stays paused with the signal queued, and its trap runs at the unpause. A
// foreground run resumed the container for every signal it passed on, whatever its stop
// signal.
func TestPauseSignalNotStopSignal(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	script := `trap "echo got" USR1; trap "echo two" USR2; while :; do sleep 0.1; done`
	for _, tt := range []struct {
		name       string
		stopSignal string // --stop-signal, or none
		foreground bool
		resumes    bool // docker resumes it for USR1
	}{
		{"psn-kill", "", false, true},
		{"psn-kill-stopsig", "TERM", false, false},
		{"psn-run", "", true, true},
		{"psn-run-stopsig", "TERM", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"run", "--name", tt.name}
			if !tt.foreground {
				args = append(args, "-d")
			}
			if tt.stopSignal != "" {
				args = append(args, "--stop-signal", tt.stopSignal)
			}
			args = append(args, img, "sh", "-c", script)
			var fg *exec.Cmd
			if tt.foreground {
				fg = exec.Command(strataBin, append([]string{"--root", root}, args...)...)
				if err := fg.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = fg.Process.Kill(); _ = fg.Wait() }) // ours
			} else {
				mustStrata(t, root, args...)
			}
			t.Cleanup(func() { strata(t, root, "rm", "-f", tt.name) })
			// PID 1 of a pid namespace drops a signal it has no handler for: paused only
			// once both traps are set.
			waitCaught(t, root, tt.name, syscall.SIGUSR1)
			waitCaught(t, root, tt.name, syscall.SIGUSR2)
			pid := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Pid}}", tt.name).Stdout)
			mustStrata(t, root, "pause", tt.name)
			got := func() bool { return strings.Contains(strata(t, root, "logs", tt.name).Stdout, "got") }
			if tt.foreground {
				// The proxy passes signals on in order: once USR2 is pending in the
				// container (or a trap ran), it is done with USR1, resume included.
				for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2} {
					if err := fg.Process.Signal(s); err != nil {
						t.Fatal(err)
					}
				}
				waitFor30(t, func() bool { return pending(pid, syscall.SIGUSR2) || got() })
			} else {
				mustStrata(t, root, "kill", "-s", "USR1", tt.name)
			}
			status := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.State.Status}}", tt.name).Stdout)
			if tt.resumes {
				if status != "running" {
					t.Fatalf("USR1 to a paused container without a stop signal left it %q, want running (docker's kill resumes it)", status)
				}
				waitFor30(t, got)
				return
			}
			if status != "paused" {
				t.Fatalf("USR1 to a paused container whose stop signal is %s left it %q, want paused (docker's kill resumes it only for its stop signal and SIGKILL)", tt.stopSignal, status)
			}
			if !pending(pid, syscall.SIGUSR1) || got() {
				t.Fatalf("USR1 to a paused container: pending %v, trap ran %v; want it pending, the trap not run", pending(pid, syscall.SIGUSR1), got())
			}
			mustStrata(t, root, "unpause", tt.name)
			waitFor30(t, got) // the queued signal is acted on once thawed
		})
	}
}

// TestPauseStopKillerResumes pauses a container during the timeout of a stop that was
// interrupted: the killer the stop left SIGKILLs it at the deadline, and resumes it, as
// docker's SIGKILL resumes a paused container. On the v1 freezer a frozen process dies of a
// SIGKILL only once thawed: the container stayed paused, its SIGKILL pending, until someone
// unpaused it.
func TestPauseStopKillerResumes(t *testing.T) {
	root := busyboxRoot(t)
	name := "psk"
	// sleep as PID 1 has no handler for the stop signal, which its pid namespace drops.
	mustStrata(t, root, "run", "-d", "--name", name, "busybox:1.38.0-musl", "sleep", "1000")
	t.Cleanup(func() { strata(t, root, "rm", "-f", name) })
	stop := exec.Command(strataBin, "--root", root, "stop", "-t", "5", name)
	stop.Env = append(os.Environ(), "STRATA_TEST_STOP_AT=stop-signalled")
	if err := stop.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := false
	t.Cleanup(func() {
		if !reaped {
			_ = stop.Process.Kill()
			_ = stop.Wait()
		}
	})
	stopped := false
	waitFor30(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(stop.Process.Pid) + "/stat")
		if err != nil {
			return true // exited: reported below
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		stopped = len(f) > 0 && f[0] == "T"
		return stopped
	})
	if !stopped {
		t.Fatal("the stop never stopped at stop-signalled")
	}
	// Paused after the stop signal, before the deadline; then the stop is gone (as a
	// Ctrl-C's second signal ends it), and its killer finishes it.
	mustStrata(t, root, "pause", name)
	_ = stop.Process.Kill()
	_ = stop.Wait()
	reaped = true
	done := make(chan result, 1)
	go func() { done <- strata(t, root, "wait", name) }()
	select {
	case r := <-done:
		if r.Stdout != "137\n" {
			t.Errorf("wait after the killer's SIGKILL of a paused container: %q, stderr %q; want 137", r.Stdout, r.Stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the stop killer's SIGKILL did not end a paused container (it is %q)",
			strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Status}}", name).Stdout))
	}
}

// pending reports whether sig waits, queued, for process pid (its ShdPnd or SigPnd in
// /proc/PID/status), as a signal to a frozen process does.
func pending(pid string, sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		for _, field := range []string{"ShdPnd:", "SigPnd:"} {
			if v, ok := strings.CutPrefix(l, field); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil && m&(1<<(uint(sig)-1)) != 0 {
					return true
				}
			}
		}
	}
	return false
}
