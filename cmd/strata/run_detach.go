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
// `run -it` from a terminal, the one whose user can type docker's detach keys (Ctrl-P Ctrl-Q,
// or --detach-keys), is started instead as run -d starts a container, by a detached monitor
// that serves its stdio, and attached to as start -ai attaches: the keys then end the attach
// and leave the container running, `strata attach` gets back in, and a --rm container is
// removed by its monitor when it ends, as docker's. Every other run keeps the foreground
// path, which starts faster.

// detachable says whether this run is attached to from the user's terminal (runInteractive):
// -i and -t in the foreground (checkTTY has seen a terminal on stdin), the default streams.
func (o *runOptions) detachable() bool {
	return !o.create && !o.detach && o.interactive && o.tty && len(o.attach) == 0
}

// consoleSize is the size of the user's terminal for a detachable run's container to start
// with (its monitor has no terminal to read it from), as docker's CLI records it in
// HostConfig.ConsoleSize; zero for any other run.
func (o *runOptions) consoleSize() [2]uint16 {
	if !o.detachable() {
		return [2]uint16{}
	}
	ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return [2]uint16{}
	}
	return [2]uint16{ws.Row, ws.Col}
}

// runInteractive starts c, created for a detachable run, and attaches the user's terminal to
// it until it ends (strata exits with its status) or the detach keys leave it running (strata
// exits 0 and says nothing, as docker run). A command that cannot run exits 126 or 127 with
// the init's error, as a foreground run does.
func runInteractive(ctx context.Context, containers *runner.Store, c *runner.Container, o *runOptions) error {
	if ctx.Err() != nil {
		// A SIGINT or SIGTERM that came while the container was made ends the run, as a
		// foreground run's: nothing is started, and a --rm container goes.
		if c.Config.AutoRemove {
			_ = containers.Remove(context.WithoutCancel(ctx), c, true)
		}
		return withCode(runner.ExitOwnError, runError(fmt.Errorf("starting container: %w", ctx.Err())))
	}
	code, err := attachTerminal(ctx, c, attachIO{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		withStdin: true, keys: o.keys,
		// As docker run's --sig-proxy, with a terminal too: a kill of strata is the
		// container's to act on.
		sigProxy: o.sigProxy,
	}, runner.StartInteractive)
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
	case err != nil:
		return withCode(runner.ExitOwnError, runError(err))
	}
	return silentExit(code)
}
