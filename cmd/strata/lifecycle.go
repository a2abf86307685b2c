package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

// eachContainer runs fn for every named container, one after the other, printing each name
// that succeeded as docker does, and reports the failures (eachError).
func eachContainer(cmd *cobra.Command, g *globals, args []string, print bool, fn func(*runner.Container) error) error {
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range args {
		if err := onContainer(store, a, fn); err != nil {
			errs = append(errs, err)
			continue
		}
		if print {
			fmt.Fprintln(cmd.OutOrStdout(), a)
		}
	}
	return eachError(cmd.ErrOrStderr(), errs)
}

// maxParallel is how many containers stop and kill act on at once, as docker's CLI
// (parallelOperation) bounds its stops and kills.
const maxParallel = 50

// eachContainerParallel is eachContainer with fn run for the containers concurrently, as
// docker stop and docker kill run theirs: `stop -t 1 a b c` takes about a second, not three.
// Names and errors still come in the order of args, each name as soon as it and those before
// it are done.
func eachContainerParallel(cmd *cobra.Command, g *globals, args []string, fn func(*runner.Container) error) error {
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	var errs []error
	inOrder(len(args), maxParallel, func(i int) error {
		return onContainer(store, args[i], fn)
	}, func(i int, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		fmt.Fprintln(cmd.OutOrStdout(), args[i])
	})
	return eachError(cmd.ErrOrStderr(), errs)
}

// eachError reports the failures of a command that acted on several containers as docker's
// do: an error line for each, after the names of those that succeeded, and exit 1. It prints
// every failure but the last to stderr as strata prints an error, and returns the last, with
// the exit code of the first failure that carries one. errors.Join made one line of them all
// ("strata: a: no such container; b: no such container").
func eachError(stderr io.Writer, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs[:len(errs)-1] {
		if !errors.Is(err, errInterrupted) {
			fmt.Fprintln(stderr, "strata: "+oneLine(err.Error()))
		}
	}
	last := errs[len(errs)-1]
	var ee *exitError
	if errors.As(errors.Join(errs...), &ee) {
		return withCode(ee.code, last)
	}
	return last
}

// inOrder runs op(0) to op(n-1), at most limit of them at once, and calls done with each
// one's result in the order of i, as soon as it and those before it have returned. done runs
// on the caller's goroutine; inOrder returns when every op has.
func inOrder(n, limit int, op func(i int) error, done func(i int, err error)) {
	results := make([]chan error, n)
	for i := range results {
		results[i] = make(chan error, 1)
	}
	go func() {
		sem := make(chan struct{}, limit)
		for i := range n {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				results[i] <- op(i)
			}()
		}
	}()
	for i := range n {
		done(i, <-results[i])
	}
}

// onContainer finds the container a names and runs fn on it; its error names a.
func onContainer(store *runner.Store, a string, fn func(*runner.Container) error) error {
	// Get's error names a already ("nosuch: no such container").
	c, err := findContainer(store, a)
	if err != nil {
		return err
	}
	if err := fn(c); err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	return nil
}

func newStopCmd(g *globals) *cobra.Command {
	// docker stop stops its containers concurrently, so -t bounds the whole command.
	return newStopLikeCmd(g, "stop", "Stop running containers: SIGTERM, then SIGKILL after the timeout", true, runner.Stop)
}

func newRestartCmd(g *globals) *cobra.Command {
	// docker restart restarts its containers one after the other.
	return newStopLikeCmd(g, "restart", "Restart containers: stop them as stop does, then start them in the background", false, runner.Restart)
}

// newStopLikeCmd is stop or restart: fn on each container (all at once when parallel), with
// docker's -t/--time.
func newStopLikeCmd(g *globals, name, short string, parallel bool, fn func(context.Context, *runner.Container, time.Duration) error) *cobra.Command {
	var (
		timeout int
		signal  string
	)
	cmd := &cobra.Command{
		Use:   name + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := cmd.Flags().Changed("timeout") || cmd.Flags().Changed("time")
			if signal != "" {
				if _, err := runner.ParseSignal(signal); err != nil {
					return fmt.Errorf("invalid --signal: %w", err)
				}
			}
			one := func(c *runner.Container) error {
				// Without -t, the container's own --stop-timeout, as docker stop does.
				seconds := timeout
				if !given && c.Config.StopTimeout != nil {
					seconds = *c.Config.StopTimeout
				}
				grace := stopGrace(seconds)
				if signal != "" {
					// -s stands for the container's stop signal in this stop alone: the
					// copy in memory, never written back to config.json.
					c.Config.StopSignal = signal
				}
				err := fn(cmd.Context(), c, grace)
				if err == nil {
					runner.Event(c, name, nil) // docker's stop or restart event
				} else if interruptedExit(cmd.Context()) != 0 {
					return errInterrupted
				}
				return err
			}
			var err error
			if parallel {
				err = eachContainerParallel(cmd, g, args, one)
			} else {
				err = eachContainer(cmd, g, args, true, one)
			}
			if code := interruptedExit(cmd.Context()); err != nil && code != 0 {
				// Ctrl-C ends a stop or restart as docker's CLI: quietly, 130 (the killer the
				// stop spawned still kills it at the timeout). It printed "context canceled", 1.
				return silentExit(code)
			}
			return err
		},
	}
	f := cmd.Flags()
	// docker 25 named the flag --timeout and kept --time as a hidden alias; both set timeout.
	f.IntVarP(&timeout, "timeout", "t", runner.DefaultStopTimeout, "seconds to wait before killing the container (-1: forever; default: the container's --stop-timeout, else 10)")
	f.IntVar(&timeout, "time", runner.DefaultStopTimeout, "alias of --timeout")
	_ = f.MarkHidden("time")
	// The usage says the default: pflag's "(default 10)" after it held for a container
	// without --stop-timeout only.
	f.Lookup("timeout").DefValue = "0"
	f.StringVarP(&signal, "signal", "s", "", "signal to send instead of the container's stop signal (default: its --stop-signal or STOPSIGNAL, else SIGTERM)")
	return cmd
}

// stopGrace is stop's and restart's --time, or a container's --stop-timeout, as a Duration.
// Any negative value waits forever, as docker's daemon waits without a bound for any timeout
// below 0 (daemon/stop.go), not -1 alone: -2 was refused. A timeout too long for a Duration
// waits as long as one can: multiplied out, it would wrap negative and kill at once.
func stopGrace(seconds int) time.Duration {
	if seconds < 0 || seconds >= int(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(seconds) * time.Second
}

func newRenameCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			old := c.Config.Name
			if err := store.Rename(c, args[1]); err != nil {
				return err
			}
			c.Config.Name = strings.TrimPrefix(args[1], "/")
			runner.Event(c, "rename", map[string]string{"oldName": "/" + old})
			return nil
		},
	}
}

func newKillCmd(g *globals) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Send a signal to running containers (default SIGKILL)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if signal == "" {
				// docker kill -s "" sends the default, SIGKILL. ParseSignal still refuses "":
				// an empty --stop-signal or STOPSIGNAL means SIGTERM and never reaches it.
				signal = "KILL"
			}
			sig, err := runner.ParseSignal(signal)
			if err != nil {
				return err
			}
			// Concurrently, as docker kill.
			return eachContainerParallel(cmd, g, args, func(c *runner.Container) error {
				// runner.Kill logs the kill event, as every signal strata sends.
				return runner.KillAfterStart(cmd.Context(), c, sig)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send (name or number)")
	return cmd
}

func newStartCmd(g *globals) *cobra.Command {
	var (
		attach, interactive bool
		detachKeys          string
	)
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start stopped containers in the background, or with -a stay attached to one",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach || interactive {
				if len(args) > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
			}
			if interactive {
				return startInteractive(cmd, g, args[0], detachKeys)
			}
			if attach {
				// Without stdin no key detaches, but docker's daemon checks the keys at every
				// attach: start -a refuses bad ones as start -i does, once the container is found.
				if _, err := runner.ParseDetachKeys(detachKeys); err != nil {
					if _, _, err := g.getContainer(args[0]); err != nil {
						return err
					}
					return usageError(cmd, fmt.Errorf("invalid --detach-keys %s: %w", quoteValue(detachKeys), err))
				}
				return startAttached(cmd.Context(), g, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			// A start that fails (no such container, a command that is not there) exits 1, as
			// docker start's "failed to start containers" does.
			return eachContainer(cmd, g, args, true, func(c *runner.Container) error {
				return startOnce(cmd.Context(), c)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&attach, "attach", "a", false, "attach to the container's output and forward signals; exit with its status")
	f.BoolVarP(&interactive, "interactive", "i", false, "attach the container's stdin too (with its output, as -a)")
	f.StringVar(&detachKeys, "detach-keys", runner.DefaultDetachKeys, "with -i, the keys that detach, leaving the container running (as attach's)")
	return cmd
}

// startOnce is runner.Start after any start another strata has under way has ended (a
// start killed once it spawned the monitor: the monitor goes on, holding the container's lock
// it was handed; a restart's stop), as docker's start
// of a container that runs succeeds: a second monitor refused it as running, and the start
// failed ("container is running") while the container came up a moment later. A start that
// fails all the same (the other one took the container as this one's monitor was spawned)
// succeeds if, that start ended, the container runs.
func startOnce(ctx context.Context, c *runner.Container) error {
	if err := runner.WaitOtherStart(ctx, c); err != nil {
		return err
	}
	if runner.Paused(c) {
		// docker's words: a start would do nothing to a container that cannot run.
		return fmt.Errorf("cannot start a paused container %s, try unpause instead", c.Name())
	}
	err := runner.Start(ctx, c)
	if err == nil {
		return nil
	}
	if werr := runner.WaitOtherStart(ctx, c); werr == nil && c.State.Running() {
		return nil
	}
	return err
}

// startInteractive is start -i (-ai) of the container name: started, then attached as attach
// does, with its output since the start and the user's stdin.
func startInteractive(cmd *cobra.Command, g *globals, name, detachKeys string) error {
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	c, err := findContainer(store, name)
	if err != nil {
		return err
	}
	// The keys once the container is found, as docker's start -a inspects it before its
	// daemon checks them at the attach, which comes before the start.
	keys, err := runner.ParseDetachKeys(detachKeys)
	if err != nil {
		return usageError(cmd, fmt.Errorf("invalid --detach-keys %s: %w", quoteValue(detachKeys), err))
	}
	if runner.Paused(c) {
		return fmt.Errorf("cannot start a paused container %s, try unpause instead", c.Name())
	}
	// As startOnce: after a start another strata has under way has ended.
	if err := runner.WaitOtherStart(cmd.Context(), c); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if c.State.Running() {
		return attach(cmd, c, name, keys, true, true, true, runner.Attach)
	}
	return attach(cmd, c, name, keys, true, true, true, runner.StartInteractive)
}

// startAttached is start -a of one container: its output until it ends, then its status as
// strata's, as docker start -a exits. A start that fails exits 1, as without -a.
func startAttached(ctx context.Context, g *globals, name string, stdout, stderr io.Writer) error {
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	code := 0
	err = onContainer(store, name, func(c *runner.Container) error {
		// As startOnce: after a start another strata has under way (one killed once it
		// spawned the monitor) has ended, whose monitor would refuse this one's.
		if err := runner.WaitOtherStart(ctx, c); err != nil {
			return err
		}
		code, err = runner.StartAttached(ctx, c, stdout, stderr)
		return err
	})
	if err != nil {
		return err
	}
	return silentExit(code)
}

func newWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := eachContainer(cmd, g, args, false, func(c *runner.Container) error {
				code, err := runner.WaitNotRunning(cmd.Context(), c)
				if err != nil && interruptedExit(cmd.Context()) != 0 {
					return errInterrupted
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
				return nil
			})
			if code := interruptedExit(cmd.Context()); err != nil && code != 0 {
				// Ctrl-C ends a wait as docker's: quietly, 130. It printed "waiting for
				// container X: context canceled" and exited 1.
				return silentExit(code)
			}
			return err
		},
	}
}

// errInterrupted is the failure of an act on one container that a signal ended: eachError
// prints no line for it, the command ends quietly (interruptedExit).
var errInterrupted = errors.New("interrupted")

// interruptedExit is the exit status of a command that a signal ended (the context strata's
// root gives commands, signal.NotifyContext's): 128 and the signal's number, 130 for Ctrl-C
// and 143 for SIGTERM, as docker's CLI exits (getExitCode); 0 when no signal ended ctx.
func interruptedExit(ctx context.Context) int {
	cause := context.Cause(ctx)
	if ctx.Err() == nil || cause == nil {
		return 0
	}
	for _, s := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		// NotifyContext's cause names the signal: "interrupt signal received".
		if cause.Error() == s.String()+" signal received" {
			return 128 + int(s)
		}
	}
	return 0
}

// newPauseCmd is docker pause: every process of each container is frozen (its cgroup's
// freezer) until unpause.
func newPauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within containers (their cgroup's freezer)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, g, args, true, withEvent(runner.Pause, "pause"))
		},
	}
}

// newUnpauseCmd is docker unpause.
func newUnpauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within paused containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd, g, args, true, withEvent(runner.Unpause, "unpause"))
		},
	}
}

// withEvent is fn that logs the container event action when it succeeds.
func withEvent(fn func(*runner.Container) error, action string) func(*runner.Container) error {
	return func(c *runner.Container) error {
		if err := fn(c); err != nil {
			return err
		}
		runner.Event(c, action, nil)
		return nil
	}
}
