package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/runner/cgroups"
)

// drivenChecks are a container's health checks run by a checker in this process (healthFor,
// as its monitor runs them), each only when the test asks for it.
type drivenChecks struct {
	hc    *healthChecker
	idle  chan time.Time // the checker waits for a turn, since then: the last check is recorded
	turn  chan struct{}
	done  chan error // a check's probe ended, with its error
	ready bool       // idle was received, and no turn given since
	due   time.Time  // when the checker came for the turn ready says it waits for
}

// driveHealth runs cfg's checks on c, its running container (whose own monitor runs none: it
// was started without a healthcheck), until the test ends.
func driveHealth(t *testing.T, c *Container, cfg *HealthConfig) *drivenChecks {
	t.Helper()
	c.Config.Healthcheck = cfg
	hc := healthFor(c, time.Now(), false)
	d := &drivenChecks{hc: hc, idle: make(chan time.Time), turn: make(chan struct{}), done: make(chan error)}
	probe := hc.probe
	stopped := make(chan struct{})
	// Each turn is taken and each end told until the test ends, also when ctx has ended: a
	// pause cuts the check under way, or one that starts while the container is paused.
	hc.probe = func(ctx context.Context, timeout time.Duration, out *limitedBuffer) (int, error) {
		select {
		case d.idle <- time.Now(): // the time the check fell due, not the test's receipt of it
		case <-stopped:
			return -1, context.Canceled
		}
		select {
		case <-d.turn:
		case <-stopped:
			return -1, context.Canceled
		}
		code, err := probe(ctx, timeout, out)
		select {
		case d.done <- err:
		case <-stopped:
		}
		return code, err
	}
	hc.start()
	t.Cleanup(hc.stop)
	t.Cleanup(func() { close(stopped) })
	return d
}

// settle waits until the checker has recorded the last check and waits for a turn, and
// returns when it came for it.
func (d *drivenChecks) settle(t *testing.T) time.Time {
	t.Helper()
	if d.ready {
		return d.due
	}
	select {
	case d.due = <-d.idle:
		d.ready = true
	case <-time.After(30 * time.Second):
		t.Fatal("the checker never came back for a check")
	}
	return d.due
}

// start starts a check; wait waits for its end.
func (d *drivenChecks) start(t *testing.T) {
	t.Helper()
	d.settle(t)
	d.ready = false
	d.turn <- struct{}{}
}

func (d *drivenChecks) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-d.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("a check did not end in 30s")
		return nil
	}
}

// check runs one check and returns its probe's error.
func (d *drivenChecks) check(t *testing.T) error {
	t.Helper()
	d.start(t)
	return d.wait(t)
}

// execEventsIn reads the exec_* events of root's log.
func execEventsIn(t *testing.T, root string) []events.Message {
	t.Helper()
	return eventsIn(t, root, "exec_")
}

// eventsIn reads the events of root's log whose action starts with prefix.
func eventsIn(t *testing.T, root, prefix string) []events.Message {
	t.Helper()
	f, err := events.Open(filepath.Join(root, events.File))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []events.Message
	if err := events.NewTail(f).Poll(func(m events.Message) bool {
		if strings.HasPrefix(m.Action, prefix) {
			got = append(got, m)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// checkExecEvents checks that evs are one exec's exec_create and exec_start of what, then its
// exec_die with exitCode, under one execID and c's name.
func checkExecEvents(t *testing.T, c *Container, evs []events.Message, what, exitCode string) {
	t.Helper()
	if len(evs) != 3 {
		t.Fatalf("exec events of a check = %v, want exec_create, exec_start and exec_die", evs)
	}
	id := evs[0].Actor.Attributes["execID"]
	if len(id) != 64 {
		t.Errorf("execID = %q, want 64 hex digits", id)
	}
	for i, want := range []string{"exec_create: " + what, "exec_start: " + what, "exec_die"} {
		m := evs[i]
		if m.Action != want || m.Actor.ID != c.ID || m.Actor.Attributes["execID"] != id || m.Actor.Attributes["name"] != c.Config.Name {
			t.Errorf("event %d = %s %s %v, want %q of %s with execID %s and name %s", i, m.Action, m.Actor.ID, m.Actor.Attributes, want, c.ID, id, c.Config.Name)
		}
	}
	if got := evs[2].Actor.Attributes["exitCode"]; got != exitCode {
		t.Errorf("exec_die exitCode = %q, want %q", got, exitCode)
	}
}

// TestHealthcheckExecEvents: each health check is logged as docker's daemon logs the exec it
// runs a check as (moby daemon/health.go, daemon/exec.go, daemon/monitor.go): exec_create and
// exec_start of its command, then exec_die with its execID and exit code, 137 for a check
// killed at its timeout. A check that never reaches the container, paused or exited, logs
// nothing: docker runs none then. strata logged no exec event for a check.
func TestHealthcheckExecEvents(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	root := t.TempDir()
	c := startedContainerIn(t, filepath.Join(root, "containers"), nil, "sleep", "1000")
	const test = "if [ -e /tmp/slow ]; then sleep 5; fi; exit 3"
	d := driveHealth(t, c, &HealthConfig{Test: []string{"CMD-SHELL", test}, Interval: time.Millisecond, Timeout: 300 * time.Millisecond, Retries: 1000})

	if err := d.check(t); err != nil {
		t.Fatalf("check = %v", err)
	}
	checkExecEvents(t, c, execEventsIn(t, root), "/bin/sh -c "+test, "3")

	if code, _, errOut, err := execOut(t, c, ExecOptions{Args: []string{"touch", "/tmp/slow"}}); code != 0 {
		t.Fatalf("Exec(touch) = %d, %v; stderr: %s", code, err, errOut)
	}
	if err := d.check(t); !errors.Is(err, errHealthTimeout) {
		t.Fatalf("check past its timeout = %v, want errHealthTimeout", err)
	}
	checkExecEvents(t, c, execEventsIn(t, root)[3:], "/bin/sh -c "+test, "137")

	if err := Pause(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unpause(c) })
	for range 2 {
		if err := d.check(t); !errors.Is(err, ErrPaused) {
			t.Fatalf("check of the paused container = %v, want ErrPaused", err)
		}
	}
	if evs := execEventsIn(t, root); len(evs) != 6 {
		t.Errorf("events after checks of the paused container = %v, want none more", evs[6:])
	}
	if err := Unpause(c); err != nil {
		t.Fatal(err)
	}

	if err := Kill(c, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := Wait(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if err := d.check(t); !errors.Is(err, ErrNotRunning) && !errors.Is(err, errCheckOutlived) {
		t.Fatalf("check of the exited container = %v, want ErrNotRunning or errCheckOutlived", err)
	}
	if evs := execEventsIn(t, root); len(evs) != 6 {
		t.Errorf("events after a check of the exited container = %v, want none more", evs[6:])
	}
}

// TestHealthcheckPausedDuringCheck: a check under way when the container is paused is killed
// and not recorded, as docker's pause stops the health monitor (moby daemon/pause.go
// updateHealthMonitor, CloseMonitorChannel), whose loop cancels the probe under way and
// returns without its result (daemon/health.go monitor); the cancel SIGKILLs the exec
// (daemon/exec.go ContainerExecStart), whose exec_die says 137 (daemon/monitor.go). A cgroup2
// freezer lets the SIGKILL through, so the check ends during the pause; a v1 freezer holds it
// until the unpause, where the check dies at once. The failing streak and the log stay as they
// were. strata's check, frozen with the container, ran on after the unpause to its end (exit
// 4 after its sleep here, its exec_die saying so) before it was dropped.
func TestHealthcheckPausedDuringCheck(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	root := t.TempDir()
	c := startedContainerIn(t, filepath.Join(root, "containers"), nil, "sleep", "1000")
	const test = "if [ -e /tmp/slow ]; then rm /tmp/slow; sleep 5; exit 4; fi; exit 3"
	d := driveHealth(t, c, &HealthConfig{
		Test:     []string{"CMD-SHELL", test},
		Interval: time.Millisecond, Timeout: time.Minute, Retries: 1, // unhealthy at the first: a pause had nothing to change
	})
	if err := d.check(t); err != nil {
		t.Fatalf("check = %v", err)
	}
	if code, _, errOut, err := execOut(t, c, ExecOptions{Args: []string{"touch", "/tmp/slow"}}); code != 0 {
		t.Fatalf("Exec(touch) = %d, %v; stderr: %s", code, err, errOut)
	}
	d.start(t)
	// The check removes the file, then sleeps: paused meanwhile, once its helper has
	// answered (exec_start logged). Frozen before, the helper answers at the unpause, its
	// command killed then: a helper killed unanswered may have started it, to run on.
	waitFor(t, func() bool {
		_, err := os.Lstat(filepath.Join(c.Dir, "upper", "tmp", "slow"))
		return errors.Is(err, os.ErrNotExist) && len(execEventsIn(t, root)) == 5
	}, "the check to start its sleep")
	if err := Pause(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unpause(c) })
	cg, err := cgroups.Load(c.CgroupKey())
	if err != nil {
		t.Fatal(err)
	}
	killable := cg.FreezeKillable()
	cg.Close()
	if killable {
		// Killed within the pause: its end comes before the unpause.
		if err := d.wait(t); err != nil {
			t.Errorf("check cut by the pause = %v, want its kill's status", err)
		}
	}
	if err := Unpause(c); err != nil {
		t.Fatal(err)
	}
	if !killable {
		_ = d.wait(t)
	}
	if err := d.check(t); err != nil {
		t.Fatalf("check after the unpause = %v", err)
	}
	d.settle(t)
	var codes []int
	for _, r := range d.hc.health().Log {
		codes = append(codes, r.ExitCode)
	}
	if len(codes) != 2 || codes[0] != 3 || codes[1] != 3 {
		t.Errorf("results' exit codes = %v, want [3 3]: the check the pause cut is none", codes)
	}
	if h := d.hc.health(); h.FailingStreak != 2 {
		t.Errorf("failing streak = %d, want 2: the check the pause cut counts for nothing", h.FailingStreak)
	}
	evs := execEventsIn(t, root)
	if len(evs) != 9 {
		t.Fatalf("exec events = %v, want those of 3 checks", evs)
	}
	checkExecEvents(t, c, evs[3:6], "/bin/sh -c "+test, "137")
	checkExecEvents(t, c, evs[6:], "/bin/sh -c "+test, "3")
}

// TestHealthcheckUnpauseRestartsSchedule: the first check after an unpause comes the interval
// after it, as docker's: its pause stops the health monitor and its unpause starts a new one
// (moby daemon/pause.go and unpause.go -> updateHealthMonitor), whose timer starts at the
// unpause (daemon/health.go monitor: time.NewTimer(getInterval())). Within the start period
// too it is the interval, not the start interval: the pause left the status unhealthy
// (CloseMonitorChannel) and getInterval gives the start interval to a starting container only;
// the start period still counts from the container's start (State.StartedAt), but a failure
// after the unpause counts, the status being no longer starting (handleProbeResult). The
// pause and the unpause change neither the failing streak nor the log, and log no
// health_status event. strata's checks kept their schedule through the pause: the first one
// after the unpause came on it (here the start interval after the check before the pause).
func TestHealthcheckUnpauseRestartsSchedule(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	root := t.TempDir()
	c := startedContainerIn(t, filepath.Join(root, "containers"), nil, "sleep", "1000")
	const interval = time.Second
	d := driveHealth(t, c, &HealthConfig{
		Test:     []string{"CMD-SHELL", "exit 3"},
		Interval: interval, StartPeriod: time.Hour, StartInterval: 100 * time.Millisecond, Retries: 1,
	})
	if err := d.check(t); err != nil {
		t.Fatalf("check = %v", err)
	}
	d.settle(t)
	if h := d.hc.health(); h.Status != HealthStarting || h.FailingStreak != 0 || len(h.Log) != 1 {
		t.Fatalf("after a failure in the start period = %+v, want starting, no streak, one result", h)
	}
	if err := Pause(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unpause(c) })
	recorded := func(when string) {
		t.Helper()
		h, err := readHealthFile(c.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != HealthUnhealthy || h.FailingStreak != 0 || len(h.Log) != 1 {
			t.Errorf("health %s = %+v, want unhealthy, the streak and the log unchanged", when, h)
		}
	}
	recorded("after the pause")
	unpaused := time.Now()
	if err := Unpause(c); err != nil {
		t.Fatal(err)
	}
	recorded("after the unpause")
	// A check that fell due before the unpause (the one that came for its turn before the
	// pause, cut by it, or one skipped during it) is let run; the first that falls due after
	// it must come the interval after it.
	for {
		due := d.settle(t)
		if !due.Before(unpaused) {
			if due.Before(unpaused.Add(interval)) {
				t.Errorf("first check after the unpause came %v after it, want the interval (%v) or more", due.Sub(unpaused), interval)
			}
			break
		}
		d.start(t)
		_ = d.wait(t)
	}
	if err := d.check(t); err != nil {
		t.Fatalf("check after the unpause = %v", err)
	}
	d.settle(t)
	if h := d.hc.health(); h.Status != HealthUnhealthy || h.FailingStreak != 1 || len(h.Log) != 2 {
		t.Errorf("after a failure following the unpause = %+v, want unhealthy, streak 1 (it counts), two results", h)
	}
	if evs := eventsIn(t, root, "health_status"); len(evs) != 0 {
		t.Errorf("health_status events %v, want none: the status was starting, then unhealthy from the pause on", evs)
	}
}
