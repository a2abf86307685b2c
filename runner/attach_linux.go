package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// StartAttached starts c as Start does and stays with it as docker start -a does: what it
// writes from this start on goes to stdout and stderr as it comes (through its monitor's
// attach, which waits for them as StartInteractive's does), the signals strata receives go to its PID 1 (forwardedSignals, as run's
// --sig-proxy), and it returns the container's exit code once it has ended.
func StartAttached(ctx context.Context, c *Container, stdout, stderr io.Writer) (int, error) {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	// A --rm container's monitor removes it once no waiter holds it: held from before the
	// start, its output and exit status are still there however soon it ends.
	release := func() {}
	if c.Config.AutoRemove {
		release = holdAsWaiter(c)
	}
	releaseDir := func() {}
	defer func() { release(); releaseDir() }()
	// The log's entries carry the time the monitor read them: those of earlier starts are
	// older than this.
	since := time.Now()
	if err := refuseRestarting(c); err != nil {
		return ExitOwnError, err
	}
	// One running already (Start does nothing) shows what it writes from now on, not a replay.
	wasRunning := c.State.Running()
	// Not ended by a Ctrl-C meanwhile: that one is the container's, caught above and passed
	// on once it runs (the start failed, "context canceled", when the container had printed
	// its first lines and the signal came before the monitor's answer).
	if err := start(context.WithoutCancel(ctx), c, false, true); err != nil {
		return ExitOwnError, err
	}
	// Any container's removal, and its next start, wait for this too (holdDirAsWaiter): an
	// rm -f or a restart while attached ends the attach with the exit code of the run it
	// started (137 for rm -f, as docker's), not with the container gone nor with the next
	// run's. Taken once started: the start (markMonitor) would wait for it.
	releaseDir = holdDirAsWaiter(c.Dir)
	if attachStartedHook != nil {
		attachStartedHook()
	}
	done := make(chan struct{})
	defer close(done)
	// The attach below reloads c: each kill reads a copy of its own, reloaded as `strata
	// kill` loads the container.
	own := *c
	go func() {
		for {
			select {
			case s := <-sigs:
				// SIGPIPE is ours (our output closed), SIGWINCH our terminal's: neither is
				// the container's, as run does not pass them on.
				if s == unix.SIGPIPE || s == unix.SIGWINCH {
					continue
				}
				// As `strata kill` (docker's sig-proxy kills through its API): a
				// restart policy's restart is canceled by it as by a kill.
				k := own
				_ = k.Reload() // on its error, the kill's says why
				_ = KillAfterStart(context.Background(), &k, s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	// The first Ctrl-C ends ctx, and is the container's to act on: the attach ends when the
	// container does, not before.
	attached := context.WithoutCancel(ctx)
	// Its output comes through its monitor's attach, as docker's start -a attaches: since
	// this start (the monitor keeps what came before the attach), and waited for when stdout
	// does not take it (Block), as docker's attach streams hold the container up. It came
	// from the log, followed: a --log-driver none container had nothing to show (an error),
	// and a stalled reader of a rotated log (max-size, --log-driver local) lost what rotated
	// away before it read it.
	code, err := Attach(attached, c, AttachOptions{Stdout: stdout, Stderr: stderr, Replay: !wasRunning, Block: true})
	switch {
	case errors.Is(err, ErrNoAttach):
		// A monitor of a strata from before attach: its log, followed.
		if err := Logs(attached, c, LogOptions{Follow: true, Since: since}, stdout, stderr); err != nil {
			return ExitOwnError, err
		}
		code, err = Wait(attached, c)
	case errors.Is(err, errStopped) || errors.Is(err, errRestarting) || errors.Is(err, errNothingServed):
		// It ended before the attach came: its output is all in its log, as StartInteractive
		// reads it.
		if code, err = Wait(attached, c); err != nil {
			return code, err
		}
		// A --log-driver none container's output is then lost: said (docker's words).
		if err := Logs(attached, c, LogOptions{Since: since}, stdout, stderr); err != nil {
			return ExitOwnError, err
		}
	}
	if err == nil && c.Config.AutoRemove {
		// As docker start -a (waitExitOrRemoved), return once the container is gone: a ps
		// or a run --name of the same name right after must not find it.
		release()
		releaseDir()
		release, releaseDir = func() {}, func() {}
		waitRemoved(c, maxWaiterHold+3*time.Second)
	}
	return code, err
}

// refuseRestarting is docker's refusal of start -a or -i of a container in its restart
// backoff: its attach comes first, and refuses a restarting container. The start would do
// nothing (the monitor starts it after the backoff), and the attach would end at once with
// nothing shown and the last run's status.
func refuseRestarting(c *Container) error {
	if err := c.Reload(); err != nil {
		return err
	}
	if c.State.Restarting {
		return ErrRestarting
	}
	return nil
}

// attachStartedHook, when not nil, is called by StartInteractive and StartAttached between
// the start and the attach (tests: an attach that comes late).
var attachStartedHook func()

// waitRemoved waits, limit at most, until c's dir is gone: its monitor removes a --rm
// container once no waiter holds it (waitForWaiters, at most maxWaiterHold).
func waitRemoved(c *Container, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if _, err := os.Lstat(c.Dir); errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}

// StartInteractive starts c and stays with it as docker start -ai does: its output since the
// start (the monitor keeps it for the attach that comes once the start is reported), o.Stdin
// to its stdin, until it exits (its status returned) or the user detaches (ErrDetached). The
// container's output waits for o.Stdout and o.Stderr when they do not take it (Block). A
// container that ended before the attach came has its output printed from its log.
func StartInteractive(ctx context.Context, c *Container, o AttachOptions) (int, error) {
	release := func() {}
	if c.Config.AutoRemove {
		release = holdAsWaiter(c) // as StartAttached: its output and status stay until read
	}
	defer func() { release() }()
	since := time.Now()
	if err := refuseRestarting(c); err != nil {
		return ExitOwnError, err
	}
	if err := start(ctx, c, false, true); err != nil {
		var remote *remoteError
		if c.Config.AutoRemove && errors.As(err, &remote) {
			// The monitor answered the init's error (run -it --rm of a command that is not
			// there) and removes the container once this waiter is gone: as a foreground
			// run, and docker's run --rm, return once it has.
			release()
			release = func() {}
			waitRemoved(c, maxWaiterHold+3*time.Second)
		}
		return ExitOwnError, err
	}
	if attachStartedHook != nil {
		attachStartedHook()
	}
	// Its output waits for this attach, as for docker's start -ai and run -it, and for a
	// foreground run's user: `run -it | less` gets all of it, however long less waits.
	o.Replay, o.Block = true, true
	code, err := Attach(ctx, c, o)
	// One that ended before the attach came: stopped, or (its restart policy) in the backoff.
	// Its output is then all in its log once it has ended: waited for first, as the attach may
	// have met the monitor of the start before this one, as it ended, and this one's output
	// not written yet.
	if errors.Is(err, errStopped) || errors.Is(err, errRestarting) || errors.Is(err, errNothingServed) {
		attached := context.WithoutCancel(ctx)
		if code, err = Wait(attached, c); err != nil {
			return code, err
		}
		if err := Logs(attached, c, LogOptions{Since: since}, o.Stdout, o.Stderr); err != nil {
			return ExitOwnError, err
		}
	}
	if err == nil && c.Config.AutoRemove {
		release()
		release = func() {}
		waitRemoved(c, maxWaiterHold+3*time.Second)
	}
	return code, err
}
