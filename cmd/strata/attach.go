package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/strata-run/strata/runner"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// newAttachCmd is docker attach: the terminal's stdin, stdout and stderr joined to a
// detached container's, until it exits or the detach keys are typed.
func newAttachCmd(g *globals) *cobra.Command {
	var (
		noStdin, sigProxy bool
		detachKeys        string
	)
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := runner.ParseDetachKeys(detachKeys)
			if err != nil {
				return usageError(cmd, fmt.Errorf("invalid --detach-keys %s: %w", quoteValue(detachKeys), err))
			}
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			return attach(cmd, c, args[0], keys, !noStdin, sigProxy, runner.Attach)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noStdin, "no-stdin", false, "do not attach stdin")
	f.BoolVar(&sigProxy, "sig-proxy", true, "pass the signals strata receives on to the container (not with a terminal: keys go to it)")
	f.StringVar(&detachKeys, "detach-keys", runner.DefaultDetachKeys, "the keys that detach, leaving the container running: a character, or ctrl-<value> (a-z, @, [, \\, ], ^, _), comma-separated")
	return cmd
}

// attach runs do, the attach of c (named name on the command line) that Attach or
// StartInteractive makes, with the user's terminal, and exits with its status.
func attach(cmd *cobra.Command, c *runner.Container, name string, keys []byte, withStdin, sigProxy bool,
	do func(context.Context, *runner.Container, runner.AttachOptions) (int, error)) error {
	tty := c.Config.Spec.Terminal
	stdinFd := int(os.Stdin.Fd())
	// docker's check (CheckTty): the keys the container's terminal reads must come from one,
	// asked of a stdin not refused by --no-stdin, whether the container has one open or not.
	if tty && withStdin && !term.IsTerminal(stdinFd) {
		return errors.New("the input device is not a TTY")
	}
	withStdin = withStdin && c.Config.Spec.Stdin
	o := runner.AttachOptions{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), DetachKeys: keys}
	if withStdin {
		o.Stdin = cmd.InOrStdin()
	}
	if tty && withStdin {
		st, err := term.MakeRaw(stdinFd)
		if err != nil {
			return fmt.Errorf("setting the terminal raw: %w", err)
		}
		defer func() { _ = term.Restore(stdinFd, st) }()
	}
	// The sizes of the user's terminal become the container's, now and on each SIGWINCH.
	if outFd := int(os.Stdout.Fd()); tty && term.IsTerminal(outFd) {
		sizes := make(chan [2]uint16, 1)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		send := func() {
			if ws, err := unix.IoctlGetWinsize(outFd, unix.TIOCGWINSZ); err == nil {
				select {
				case sizes <- [2]uint16{ws.Row, ws.Col}:
				default:
				}
			}
		}
		send()
		go func() {
			for range winch {
				send()
			}
		}()
		o.Resize = sizes
	}
	ctx := cmd.Context()
	if sigProxy && !tty {
		// As docker attach: the signals strata receives are the container's (Ctrl-C its
		// SIGINT), and the attach ends when the container does.
		ctx = context.WithoutCancel(ctx)
		stop := proxySignals(c)
		defer stop()
	}
	code, err := do(ctx, c, o)
	switch {
	case errors.Is(err, runner.ErrDetached):
		// docker's words, on a line of their own after whatever the terminal shows.
		fmt.Fprintln(cmd.ErrOrStderr(), "\r\n"+err.Error())
		return nil
	case err != nil && interruptedExit(cmd.Context()) != 0:
		return silentExit(interruptedExit(cmd.Context()))
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	}
	return silentExit(code)
}

// proxySignals passes the signals strata receives on to c's PID 1 until stop is called.
func proxySignals(c *runner.Container) (stop func()) {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, runner.ForwardedSignals()...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				// SIGPIPE is strata's own output closing, SIGWINCH its terminal's.
				if s == unix.SIGPIPE || s == unix.SIGWINCH {
					continue
				}
				_ = runner.Kill(c, s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
