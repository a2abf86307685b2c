package integration

import (
	"strings"
	"testing"
	"time"
)

// TestLifecycleDockerCodes: what docker's CLI does where strata differed. rm -f of a missing
// container prints its error and exits 0; start's failures exit 1 (they were 125); stop and
// kill act on their containers at once, so -t bounds the whole stop; kill takes docker's
// signal aliases and -s "" as its default, SIGKILL; --cpu-shares out of the kernel's bounds
// is clamped with docker's warning instead of refused.
func TestLifecycleDockerCodes(t *testing.T) {
	requiresContainers(t)
	root, _ := loadedRoot(t)
	names := []string{"ld-p1", "ld-p2", "ld-p3", "ld-gone", "ld-nocmd", "ld-trap", "ld-shares"}
	t.Cleanup(func() { strata(t, root, append([]string{"rm", "-f"}, names...)...) })

	t.Run("rm -f missing", func(t *testing.T) {
		mustStrata(t, root, "create", "--name", "ld-gone", "alpine", "true")
		r := strata(t, root, "rm", "-f", "ld-gone", "nosuch")
		if r.Code != 0 || r.Stdout != "ld-gone\n" {
			t.Errorf("rm -f ld-gone nosuch = exit %d, stdout %q; want 0 and ld-gone", r.Code, r.Stdout)
		}
		assertOneLineError(t, r.Stderr, "nosuch: no such container")
		r = strata(t, root, "rm", "nosuch")
		checkFailed(t, r, "nosuch")
	})

	t.Run("start fails with 1", func(t *testing.T) {
		mustStrata(t, root, "create", "--name", "ld-nocmd", "alpine", "/nonexistent")
		for _, name := range []string{"ld-nocmd", "nosuch"} {
			r := strata(t, root, "start", name)
			if r.Code != 1 {
				t.Errorf("start %s = exit %d, want 1 (stderr %q)", name, r.Code, r.Stderr)
			}
			assertOneLineError(t, r.Stderr, name)
		}
	})

	t.Run("stop and kill in parallel", func(t *testing.T) {
		// sleep as PID 1 ignores SIGTERM: each stop waits out its -t.
		for _, p := range []string{"ld-p1", "ld-p2", "ld-p3"} {
			mustStrata(t, root, "run", "-d", "--name", p, "alpine", "sleep", "600")
		}
		// One after the other, the stops take 3 timeouts at least; side by side, one and what
		// strata costs, which a loaded machine made more than the 1.5 s this allowed.
		start := time.Now()
		r := strata(t, root, "stop", "-t", "3", "ld-p1", "nosuch", "ld-p2", "ld-p3")
		if d := time.Since(start); d >= 9*time.Second {
			t.Errorf("stop -t 3 of three containers ignoring SIGTERM took %v: one after the other", d)
		}
		if r.Code != 1 || r.Stdout != "ld-p1\nld-p2\nld-p3\n" {
			t.Errorf("stop -t 3 ld-p1 nosuch ld-p2 ld-p3 = exit %d, stdout %q; want 1 and the three in order", r.Code, r.Stdout)
		}
		assertOneLineError(t, r.Stderr, "nosuch: no such container")
		if out := mustStrata(t, root, "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", "ld-p1", "ld-p2", "ld-p3").Stdout; out != "false 137\nfalse 137\nfalse 137\n" {
			t.Errorf("after stop, state = %q, want all killed", out)
		}
		for _, p := range []string{"ld-p1", "ld-p2", "ld-p3"} {
			mustStrata(t, root, "start", p)
		}
		r = strata(t, root, "kill", "ld-p3", "ld-p2", "ld-p1")
		if r.Code != 0 || r.Stdout != "ld-p3\nld-p2\nld-p1\n" {
			t.Errorf("kill ld-p3 ld-p2 ld-p1 = exit %d, stdout %q, stderr %q; want 0 and the three in order", r.Code, r.Stdout, r.Stderr)
		}
		if out := mustStrata(t, root, "wait", "ld-p1", "ld-p2", "ld-p3").Stdout; out != "137\n137\n137\n" {
			t.Errorf("wait after kill = %q, want 137 three times", out)
		}
	})

	t.Run("kill signal names", func(t *testing.T) {
		// The shell exits with the number of the signal it traps, so each name is checked to
		// be the signal docker means by it. CLD (SIGCHLD) is ignored, as the shell's children
		// send it too: the container runs on, and -s "" then kills it as SIGKILL.
		trap := `trap "exit 6" 6; trap "exit 29" 29; echo ready; while :; do sleep 0.05; done`
		for _, tt := range []struct {
			signals []string
			code    string
		}{{[]string{"IOT"}, "6"}, {[]string{"sigpoll"}, "29"}, {[]string{"CLD", ""}, "137"}} {
			mustStrata(t, root, "run", "-d", "--name", "ld-trap", "alpine", "sh", "-c", trap)
			waitFor30(t, func() bool { return strings.Contains(strata(t, root, "logs", "ld-trap").Stdout, "ready") })
			killed := true
			for _, sig := range tt.signals {
				if r := strata(t, root, "kill", "-s", sig, "ld-trap"); r.Code != 0 || r.Stdout != "ld-trap\n" {
					t.Errorf("kill -s %q = exit %d, stdout %q, stderr %q; want 0", sig, r.Code, r.Stdout, r.Stderr)
					killed = false
				}
				if sig == "CLD" {
					time.Sleep(200 * time.Millisecond)
					if out := mustStrata(t, root, "inspect", "-f", "{{.State.Running}}", "ld-trap").Stdout; out != "true\n" {
						t.Errorf("after kill -s CLD, running = %q, want true (SIGCHLD is ignored)", out)
					}
				}
			}
			if !killed {
				mustStrata(t, root, "rm", "-f", "ld-trap")
				continue
			}
			if out := strings.TrimSpace(mustStrata(t, root, "wait", "ld-trap").Stdout); out != tt.code {
				t.Errorf("kill -s %q: container exited %s, want %s", tt.signals, out, tt.code)
			}
			mustStrata(t, root, "rm", "-f", "ld-trap")
		}
	})

	t.Run("cpu-shares clamped", func(t *testing.T) {
		for _, tt := range []struct{ in, want, warning string }{
			{"1", "2", "WARNING: Changing requested CPUShares of 1 to minimum allowed of 2\n"},
			{"262145", "262144", "WARNING: Changing requested CPUShares of 262145 to maximum allowed of 262144\n"},
		} {
			r := strata(t, root, "run", "--name", "ld-shares", "--cpu-shares", tt.in, "alpine", "true")
			if r.Code != 0 || r.Stderr != tt.warning {
				t.Errorf("run --cpu-shares %s = exit %d, stderr %q; want 0 and %q", tt.in, r.Code, r.Stderr, tt.warning)
			}
			if out := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.HostConfig.CpuShares}}", "ld-shares").Stdout); out != tt.want {
				t.Errorf("run --cpu-shares %s: HostConfig.CpuShares %s, want %s", tt.in, out, tt.want)
			}
			mustStrata(t, root, "rm", "ld-shares")
		}
	})
}
