package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHealthcheckPaused: a paused container with a healthcheck is unhealthy (inspect
// State.Health.Status, ps --filter health=unhealthy) and ps shows it "Up … (Paused)", as
// docker's pause stops the health monitor, which leaves it unhealthy (moby
// CloseMonitorChannel); after the unpause it stays unhealthy until a check's result changes
// it: a failure short of the retries leaves it unhealthy, a success makes it healthy. strata
// showed the status from before the pause throughout.
func TestHealthcheckPaused(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "run", "-d", "--name", "hpause", "--health-cmd", "test -e /tmp/ok", "--health-interval", "100ms",
		"--health-retries", "1000", "busybox:1.38.0-musl", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hpause") })
	health := func() (string, int) {
		f := strings.Fields(strata(t, root, "inspect", "-f", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", "hpause").Stdout)
		if len(f) != 2 {
			return "", 0
		}
		n, _ := strconv.Atoi(f[1])
		return f[0], n
	}
	mustStrata(t, root, "exec", "hpause", "touch", "/tmp/ok")
	waitFor(t, func() bool { s, _ := health(); return s == "healthy" })
	// Failing from now on, but far from the retries: healthy still.
	mustStrata(t, root, "exec", "hpause", "rm", "/tmp/ok")
	waitFor(t, func() bool { _, n := health(); return n > 0 })
	mustStrata(t, root, "pause", "hpause")
	if s, _ := health(); s != "unhealthy" {
		t.Errorf("health of the paused container: %q, want unhealthy, as docker's", s)
	}
	if out := mustStrata(t, root, "ps", "--filter", "health=unhealthy", "--format", "{{.Names}} {{.Status}}").Stdout; !strings.HasPrefix(out, "hpause Up ") || !strings.HasSuffix(out, " (Paused)\n") {
		t.Errorf("ps --filter health=unhealthy of the paused container: %q, want it listed Up … (Paused)", out)
	}
	_, streak := health()
	mustStrata(t, root, "unpause", "hpause")
	waitFor(t, func() bool { _, n := health(); return n > streak })
	if s, _ := health(); s != "unhealthy" {
		t.Errorf("health after the unpause and a failed check: %q, want unhealthy, as docker's", s)
	}
	mustStrata(t, root, "exec", "hpause", "touch", "/tmp/ok")
	waitFor(t, func() bool { s, _ := health(); return s == "healthy" })
}

// TestHealthcheckPausedDuringCheck: a check under way when the container is paused is killed,
// as docker's pause stops the health monitor, which cancels the check and so SIGKILLs its exec
// (moby daemon/health.go monitor, daemon/exec.go ContainerExecStart): its exec_die says 137,
// and it adds nothing to the log or the failing streak. strata's check, frozen with the
// container, ran on after the unpause to its end (exit 4 after its sleep, in its exec_die).
func TestHealthcheckPausedDuringCheck(t *testing.T) {
	root := busyboxRoot(t)
	start := time.Now()
	mustStrata(t, root, "run", "-d", "--name", "hpausecut", "--health-cmd", "if [ -e /tmp/slow ]; then rm /tmp/slow; sleep 5; exit 4; fi; exit 3",
		"--health-interval", "100ms", "--health-timeout", "60s", "--health-retries", "1000", "busybox:1.38.0-musl", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hpausecut") })
	// The exit codes in the checks' exec_die events, oldest first.
	dies := func() []string {
		return strings.Fields(mustStrata(t, root, "events", "--since", start.Format(time.RFC3339Nano), "--until", "0s", "-f", "container=hpausecut",
			"-f", "event=exec_die", "--format", "{{.Actor.Attributes.exitCode}}").Stdout)
	}
	waitFor(t, func() bool { return len(dies()) > 0 })
	id := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.ID}}", "hpausecut").Stdout)
	mustStrata(t, root, "exec", "hpausecut", "touch", "/tmp/slow")
	// The check has removed the file (from the container's upper layer): it sleeps.
	waitFor(t, func() bool {
		_, err := os.Lstat(filepath.Join(root, "containers", id, "upper", "tmp", "slow"))
		return errors.Is(err, os.ErrNotExist)
	})
	mustStrata(t, root, "pause", "hpausecut")
	mustStrata(t, root, "unpause", "hpausecut")
	var cut string
	waitFor30(t, func() bool {
		for _, code := range dies() {
			if code != "0" && code != "3" { // 0: the exec of touch
				cut = code
				return true
			}
		}
		return false
	})
	if cut != "137" {
		t.Errorf("exec_die of the check under way at the pause: exitCode %s, want 137 (killed)", cut)
	}
	waitFor(t, func() bool {
		return strings.Count(strings.Join(dies(), " "), "137") == 1 && strings.HasSuffix(strings.Join(dies(), " "), "3")
	})
	out := mustStrata(t, root, "inspect", "-f", "{{range .State.Health.Log}}{{.ExitCode}} {{end}}", "hpausecut").Stdout
	if strings.Contains(out, "4") || strings.Contains(out, "-1") || strings.Contains(out, "137") {
		t.Errorf("health log exit codes %q: the check the pause cut is recorded", out)
	}
}

// TestHealthcheckUnpauseRestartsSchedule: `strata unpause` starts the checks' schedule again,
// as docker's unpause starts a new health monitor whose timer starts then (moby
// daemon/unpause.go -> updateHealthMonitor, daemon/health.go monitor): the first check after it
// comes the interval after it, also within the start period, where the status the pause left
// (unhealthy) gets the interval and not the start interval; that check's failure counts.
// strata's checks went on at the start interval after the unpause, on their old schedule.
func TestHealthcheckUnpauseRestartsSchedule(t *testing.T) {
	root := busyboxRoot(t)
	const interval = 2 * time.Second
	start := time.Now()
	mustStrata(t, root, "run", "-d", "--name", "hresched", "--health-cmd", "exit 3", "--health-interval", interval.String(),
		"--health-start-period", "1h", "--health-start-interval", "100ms", "--health-retries", "1", "busybox:1.38.0-musl", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hresched") })
	if h := waitHealth(t, root, "hresched", func(h *inspectHealth) bool { return len(h.Log) > 0 }); h.Status != "starting" || h.FailingStreak != 0 {
		t.Fatalf("after failures in the start period: %+v, want starting, no streak", h)
	}
	mustStrata(t, root, "pause", "hresched")
	unpaused := time.Now()
	mustStrata(t, root, "unpause", "hresched")
	h := waitHealth(t, root, "hresched", func(h *inspectHealth) bool { return !h.Log[len(h.Log)-1].Start.Before(unpaused) })
	if first := h.Log[len(h.Log)-1].Start; first.Before(unpaused.Add(interval)) {
		t.Errorf("first check after the unpause started %v after it, want the interval (%v) or more", first.Sub(unpaused), interval)
	}
	if h.Status != "unhealthy" || h.FailingStreak != 1 {
		t.Errorf("after a failure following the unpause: %s, streak %d; want unhealthy, streak 1", h.Status, h.FailingStreak)
	}
	if out := mustStrata(t, root, "events", "--since", start.Format(time.RFC3339Nano), "--until", "0s", "-f", "container=hresched",
		"-f", "event=health_status", "--format", "{{.Action}}").Stdout; out != "" {
		t.Errorf("health_status events %q, want none: starting, then unhealthy from the pause on", out)
	}
}

// TestHealthcheckForegroundSignalRestartsSchedule: a foreground `strata run` that thaws its
// paused container to pass a signal on starts the checks' schedule again, as `strata unpause`
// does: docker's proxy kills with the signal, and the resume of the paused container starts a
// new health monitor (moby daemon/monitor.go EventResumed -> updateHealthMonitor), whose first
// check comes the interval after it, even within the start period (the pause left the status
// unhealthy). strata's foreground run thawed without telling its checks, which went on at the
// start interval on their old schedule.
func TestHealthcheckForegroundSignalRestartsSchedule(t *testing.T) {
	root := busyboxRoot(t)
	const interval = 2 * time.Second
	// sleep, PID 1 without a handler, lets the kernel drop the SIGUSR1: the container runs on.
	cmd := exec.Command(strataBin, "--root", root, "run", "--name", "hfgsig", "--health-cmd", "exit 3", "--health-interval", interval.String(),
		"--health-start-period", "1h", "--health-start-interval", "100ms", "--health-retries", "1", "busybox:1.38.0-musl", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); strata(t, root, "rm", "-f", "hfgsig") }) // ours
	// Running (a foreground run records it once its command runs): its checks have started.
	waitFor(t, func() bool {
		return strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Status}}", "hfgsig").Stdout) == "running"
	})
	if h := waitHealth(t, root, "hfgsig", func(h *inspectHealth) bool { return len(h.Log) > 0 }); h.Status != "starting" {
		t.Fatalf("after failures in the start period: %+v, want starting", h)
	}
	mustStrata(t, root, "pause", "hfgsig")
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Status}}", "hfgsig").Stdout) == "running"
	})
	h := waitHealth(t, root, "hfgsig", func(h *inspectHealth) bool { return !h.Log[len(h.Log)-1].Start.Before(signalled) })
	if first := h.Log[len(h.Log)-1].Start; first.Before(signalled.Add(interval)) {
		t.Errorf("first check after the signal's thaw started %v after the signal, want the interval (%v) or more", first.Sub(signalled), interval)
	}
	if h.Status != "unhealthy" || h.FailingStreak != 1 {
		t.Errorf("after a failure following the thaw: %s, streak %d; want unhealthy, streak 1", h.Status, h.FailingStreak)
	}
}

// TestHealthcheckMonitorHoldsNoWatch: the monitor of a container with a healthcheck holds no
// inotify watch, before and after a pause and an unpause (whose wake still reaches it: a
// check follows the unpause), where it watched the container dir to learn of them. The last
// close of an inotify fd that had a watch waits for an SRCU grace period of the kernel's
// fsnotify (4 to 16 ms at 250 Hz), which the monitor paid at its exit: an rm -f of the
// running container and a foreground run --rm waited that much longer.
func TestHealthcheckMonitorHoldsNoWatch(t *testing.T) {
	root := busyboxRoot(t)
	mustStrata(t, root, "run", "-d", "--name", "hnowatch", "--health-cmd", "true", "--health-interval", "100ms",
		"busybox:1.38.0-musl", "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "hnowatch") })
	monitor := readState(t, filepath.Join(root, "containers", containerID(t, root, "hnowatch"))).MonitorPid
	if monitor <= 0 {
		t.Fatal("no monitor in state.json")
	}
	health := func() string {
		return strings.TrimSpace(strata(t, root, "inspect", "-f", "{{.State.Health.Status}}", "hnowatch").Stdout)
	}
	watches := func(when string) {
		t.Helper()
		dir := "/proc/" + strconv.Itoa(monitor) + "/fdinfo"
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil && strings.Contains(string(b), "inotify wd:") {
				t.Errorf("%s: the monitor's fd %s holds an inotify watch: %s", when, e.Name(), b)
			}
		}
	}
	waitFor(t, func() bool { return health() == "healthy" })
	watches("with the checks running")
	mustStrata(t, root, "pause", "hnowatch")
	watches("paused")
	mustStrata(t, root, "unpause", "hnowatch")
	waitFor(t, func() bool { return health() == "healthy" }) // the pause left it unhealthy
	watches("after the unpause")
}
