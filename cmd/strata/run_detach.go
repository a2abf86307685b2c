package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/runner"
)

// A foreground run is its own container's monitor: the container's init is its child, and
// nothing would be left to run the container once it had gone, so it could not be left. A
// `run -it` from a terminal (with any -a), the one whose user can type docker's detach keys
// (Ctrl-P Ctrl-Q, or --detach-keys), is started instead as run -d starts a container, by a
// detached monitor that serves its stdio, and attached to as start -ai attaches: the keys
// then end the attach and leave the container running, `strata attach` gets back in, and a
// --rm container is removed by its monitor when it ends, as docker's. So is a run with a
// restart policy, with or without -i and -t: the monitor restarts the container, as docker's
// daemon does, once the attach has shown its first run and strata has exited with its
// status. Every other run keeps the foreground path, which starts faster.

// detachable says whether this run is attached to from the user's terminal (runInteractive):
// -i and -t in the foreground (checkTTY has seen a terminal on stdin), whatever -a names, as
// docker's CLI attaches stdin with -i (AttachStdin) and reads the detach keys on it with -t,
// -a stdout or not.
func (o *runOptions) detachable() bool {
	return !o.create && !o.detach && o.interactive && o.tty
}

// viaMonitor says whether this foreground run is started by a detached monitor and attached
// to (runInteractive) rather than run as strata's child: a detachable one, and one whose
// restart policy restarts it (checkAttachRestart has read it), which its monitor does.
func (o *runOptions) viaMonitor() bool {
	if o.create || o.detach {
		return false
	}
	if o.detachable() {
		return true
	}
	p, err := runner.ParseRestartPolicy(o.restart)
	return err == nil && p.Restarts()
}

// consoleSize is the size of the user's terminal for the -t container of a run via its
// monitor to start with (the monitor has no terminal to read it from), as docker's CLI records
// it in HostConfig.ConsoleSize: its output's, else its input's, as attachTerminal sizes it;
// zero for any other run.
func (o *runOptions) consoleSize() [2]uint16 {
	if !o.tty || !o.viaMonitor() {
		return [2]uint16{}
	}
	for _, f := range []*os.File{os.Stdout, os.Stdin} {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			return [2]uint16{ws.Row, ws.Col}
		}
	}
	return [2]uint16{}
}

// runInteractive starts c, created for a run viaMonitor, and attaches the user's terminal to
// it, stdout and stderr as -a says, until it ends (strata exits with its status: a restart
// policy's first run's, as docker run's, its monitor going on) or the detach keys leave it
// running (strata exits 0 and says nothing, as docker run). A command that cannot run exits
// 126 or 127 with the init's error, as a foreground run does.
func runInteractive(ctx context.Context, containers *runner.Store, c *runner.Container, o *runOptions) error {
	if ctx.Err() != nil {
		// A SIGINT or SIGTERM that came while the container was made ends the run, as a
		// foreground run's: nothing is started, and a --rm container goes.
		if c.Config.AutoRemove {
			_ = containers.Remove(context.WithoutCancel(ctx), c, true)
		}
		return withCode(runner.ExitOwnError, runError(fmt.Errorf("starting container: %w", ctx.Err())))
	}
	a := attachIO{
		stdin: os.Stdin, withStdin: true, keys: o.keys,
		// As docker run's --sig-proxy, with a terminal too: a kill of strata is the
		// container's to act on.
		sigProxy: o.sigProxy,
		// Its output's reader gone (`run -it ... | head -1`), the container's terminal is
		// hung up, as a foreground run -t's: it ends as a command on a pipe does, and a
		// --rm one goes, where the attach ended with "write /dev/stdout: broken pipe", 125,
		// and left it running for good with nothing attached.
		hangUp: true,
	}
	// An unattached stream (-a) is left to the container's log, as a foreground run's.
	if o.attach.has("stdout") {
		a.stdout = os.Stdout
	}
	if o.attach.has("stderr") {
		a.stderr = os.Stderr
	}
	code, err := attachTerminal(ctx, c, a, runner.StartInteractive)
	// What killed runs left, once this one is done, as after a foreground run.
	_ = containers.SweepOrphans()
	var signalled attachSignalled
	switch {
	case errors.Is(err, runner.ErrDetached):
		return nil
	case errors.As(err, &signalled):
		return silentExit(128 + int(signalled.sig))
	case err != nil && interruptedExit(ctx) != 0:
		// --sig-proxy=false: a SIGINT or SIGTERM of strata ends the attach, and the
		// container runs on.
		return silentExit(interruptedExit(ctx))
	case runner.IsOutputError(err):
		// Its output's reader gone, a run without a terminal to hang up (one with a restart
		// policy) ends as docker's CLI does, with the write's error and status 1; its
		// container runs on, as docker's.
		return withCode(1, runError(err))
	case err != nil:
		return withCode(runner.ExitOwnError, runError(err))
	}
	return silentExit(code)
}
