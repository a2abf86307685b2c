package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

// eachContainer runs fn for every named container, printing each name that succeeded as
// docker does, and joins the failures.
func eachContainer(ctx context.Context, g *globals, out io.Writer, args []string, print bool, fn func(*runner.Container) error) error {
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range args {
		// Get's error names a already ("nosuch: no such container").
		c, err := findContainer(store, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := fn(c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
			continue
		}
		if print {
			fmt.Fprintln(out, a)
		}
	}
	return errors.Join(errs...)
}

func newStopCmd(g *globals) *cobra.Command {
	return newStopLikeCmd(g, "stop", "Stop running containers: SIGTERM, then SIGKILL after the timeout", runner.Stop)
}

func newRestartCmd(g *globals) *cobra.Command {
	return newStopLikeCmd(g, "restart", "Restart containers: stop them as stop does, then start them in the background", runner.Restart)
}

// newStopLikeCmd is stop or restart: fn on each container, with docker's -t/--time.
func newStopLikeCmd(g *globals, name, short string, fn func(context.Context, *runner.Container, time.Duration) error) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   name + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := cmd.Flags().Changed("time")
			if _, err := stopGrace(timeout); err != nil {
				return err
			}
			return eachContainer(cmd.Context(), g, cmd.OutOrStdout(), args, true, func(c *runner.Container) error {
				// Without -t, the container's own --stop-timeout, as docker stop does.
				seconds := timeout
				if !given && c.Config.StopTimeout != nil {
					seconds = *c.Config.StopTimeout
				}
				grace, err := stopGrace(seconds)
				if err != nil {
					return err
				}
				return fn(cmd.Context(), c, grace)
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", runner.DefaultStopTimeout, "seconds to wait before killing the container (-1: forever; default: the container's --stop-timeout, else 10)")
	return cmd
}

// stopGrace is stop's and restart's --time as a Duration.
func stopGrace(seconds int) (time.Duration, error) {
	if seconds < -1 {
		return 0, fmt.Errorf("invalid --time %d: want seconds, or -1 to wait forever", seconds)
	}
	// A timeout too long for a Duration waits as long as one can: multiplied out, it would
	// wrap negative and kill at once. -1 is docker's "forever".
	if seconds == -1 || seconds >= int(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(seconds) * time.Second, nil
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
			return store.Rename(c, args[1])
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
			sig, err := runner.ParseSignal(signal)
			if err != nil {
				return err
			}
			return eachContainer(cmd.Context(), g, cmd.OutOrStdout(), args, true, func(c *runner.Container) error {
				return runner.Kill(c, sig)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send (name or number)")
	return cmd
}

func newStartCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start CONTAINER [CONTAINER...]",
		Short: "Start stopped containers in the background",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := eachContainer(cmd.Context(), g, cmd.OutOrStdout(), args, true, func(c *runner.Container) error {
				return runner.Start(cmd.Context(), c)
			})
			return withCode(runner.ExitOwnError, err)
		},
	}
	return cmd
}

func newWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(cmd.Context(), g, cmd.OutOrStdout(), args, false, func(c *runner.Container) error {
				code, err := runner.Wait(cmd.Context(), c)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
				return nil
			})
		},
	}
}
