package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
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
			// The container first, then its state, then the terminal: docker's CLI inspects
			// it and refuses a stopped, paused or restarting one, then checks the terminal,
			// before its daemon checks the keys at the attach. Attach checks the state again.
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			if err := runner.CheckAttach(c); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := checkAttachTTY(c, !noStdin); err != nil {
				return err
			}
			keys, err := runner.ParseDetachKeys(detachKeys)
			if err != nil {
				return usageError(cmd, fmt.Errorf("invalid --detach-keys %s: %w", quoteValue(detachKeys), err))
			}
			return attach(cmd, c, args[0], keys, !noStdin, sigProxy, false, runner.Attach)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noStdin, "no-stdin", false, "do not attach stdin")
	f.BoolVar(&sigProxy, "sig-proxy", true, "pass the signals strata receives on to the container (not with a terminal: keys go to it)")
	f.StringVar(&detachKeys, "detach-keys", runner.DefaultDetachKeys, "the keys that detach, leaving the container running: a character, or ctrl-<value> (a-z, @, [, \\, ], ^, _), comma-separated")
	return cmd
}

// attach runs do, the attach of c (named name on the command line) that Attach or
// StartInteractive makes, with the user's terminal, and exits with its status. A detach
// (the keys typed) ends `strata attach` as docker attach's CLI ends (it returns the escape
// error of its stream): "read escape sequence", exit 1; start -ai (started) ends in silence
// with exit 0, as docker start takes the escape error as a normal end, and run -it.
func attach(cmd *cobra.Command, c *runner.Container, name string, keys []byte, withStdin, sigProxy, started bool,
	do func(context.Context, *runner.Container, runner.AttachOptions) (int, error)) error {
	tty := c.Config.Spec.Terminal
	if err := checkAttachTTY(c, withStdin); err != nil {
		return err
	}
	// As docker attach, signals are passed on only without a terminal: with one, Ctrl-C is
	// a key the container's terminal reads.
	code, err := attachTerminal(cmd.Context(), c, attachIO{
		stdin: cmd.InOrStdin(), stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr(),
		withStdin: withStdin, keys: keys, sigProxy: sigProxy && !tty,
	}, do)
	var signalled attachSignalled
	switch {
	case errors.Is(err, runner.ErrDetached) && started:
		return nil
	case errors.Is(err, runner.ErrDetached):
		// docker's words, on a line of their own after whatever the terminal shows.
		fmt.Fprintln(cmd.ErrOrStderr(), "\r\n"+err.Error())
		return silentExit(1)
	case errors.As(err, &signalled):
		return silentExit(128 + int(signalled.sig))
	case err != nil && interruptedExit(cmd.Context()) != 0:
		return silentExit(interruptedExit(cmd.Context()))
	case err != nil:
		return fmt.Errorf("%s: %w", name, err)
	}
	return silentExit(code)
}

// checkAttachTTY is docker's check (CheckTty) of an attach to c: the keys the container's
// terminal reads must come from one, asked of a stdin not refused by --no-stdin, whether the
// container has one open or not.
func checkAttachTTY(c *runner.Container, withStdin bool) error {
	if c.Config.Spec.Terminal && withStdin && !term.IsTerminal(int(os.Stdin.Fd())) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

// attachIO is what attachTerminal joins to a container: the user's streams, whether stdin
// goes to the container's (if it has one open), the detach keys, and whether the signals
// strata receives go to its PID 1.
type attachIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	withStdin      bool
	keys           []byte
	sigProxy       bool
	// hangUp: once stdout takes no more, a -t container's terminal is hung up
	// (runner.AttachOptions.HangUp).
	hangUp bool
}

// attachTerminal runs do with the user's terminal as the container's: raw while the keys go
// to a -t container's terminal (restored however do returns), its size the container's, now
// and on each SIGWINCH. It returns what do does.
func attachTerminal(ctx context.Context, c *runner.Container, a attachIO,
	do func(context.Context, *runner.Container, runner.AttachOptions) (int, error)) (int, error) {
	tty := c.Config.Spec.Terminal
	stdinFd := int(os.Stdin.Fd())
	withStdin := a.withStdin && c.Config.Spec.Stdin
	o := runner.AttachOptions{Stdout: a.stdout, Stderr: a.stderr, HangUp: a.hangUp}
	if withStdin {
		o.Stdin = a.stdin
	}
	if tty {
		// The detach keys are read only on the input of a -t container, as docker's CLI
		// reads them only with a terminal (hijack.go's escape proxy) and its daemon only for
		// a Tty container: without, they are bytes like any other, the container's.
		o.DetachKeys = a.keys
	}
	// The signals are caught before the terminal goes raw: one that came in between (a
	// SIGHUP as the attach began) ended strata with its terminal left raw.
	var signalled func() syscall.Signal
	if a.sigProxy {
		// The signals strata receives are the container's (without a terminal, Ctrl-C its
		// SIGINT), and the attach ends when the container does.
		ctx = context.WithoutCancel(ctx)
		stop := proxySignals(c)
		defer stop()
	} else if tty && withStdin {
		// Not passed on, a signal that would end strata ends the attach, as SIGINT and
		// SIGTERM do (ctx): the terminal is restored, and the container runs on.
		var stop context.CancelFunc
		ctx, signalled, stop = endOnSignals(ctx)
		defer stop()
	}
	if tty && withStdin {
		st, err := term.MakeRaw(stdinFd)
		if err != nil {
			return runner.ExitOwnError, fmt.Errorf("setting the terminal raw: %w", err)
		}
		defer func() { _ = term.Restore(stdinFd, st) }()
	}
	// The sizes of the user's terminal become the container's: its output's, else (run -it
	// with its output on a pipe) its input's, as a foreground run sized it.
	sizeFd := int(os.Stdout.Fd())
	if !term.IsTerminal(sizeFd) {
		sizeFd = stdinFd
	}
	if tty && term.IsTerminal(sizeFd) {
		sizes := make(chan [2]uint16, 1)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		send := func() {
			if ws, err := unix.IoctlGetWinsize(sizeFd, unix.TIOCGWINSZ); err == nil {
				offerSize(sizes, [2]uint16{ws.Row, ws.Col})
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
	code, err := do(ctx, c, o)
	if signalled != nil {
		if s := signalled(); s != 0 && err != nil {
			return runner.ExitOwnError, attachSignalled{s}
		}
	}
	return code, err
}

// offerSize queues size for the attach to send, in place of one it has not taken yet: the
// latest size is the terminal's. The attach takes the first only once the container has
// started and its socket answered, and a resize before that was dropped as the queue was
// full: run -it's container kept the size its terminal had at the start. sizes has room for
// one, and offerSize is its only sender, called from one goroutine at a time.
func offerSize(sizes chan [2]uint16, size [2]uint16) {
	select {
	case <-sizes:
	default:
	}
	sizes <- size
}

// endingSignals are the signals whose default action would end strata, other than SIGINT
// and SIGTERM (strata's context): an attach that does not pass them on ends on them with its
// terminal restored. SIGPIPE is caught too, so that a write to a closed output fails (and
// the attach ends with that error) rather than kill strata with its terminal raw.
var endingSignals = []os.Signal{
	unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGVTALRM,
	unix.SIGPROF, unix.SIGIO, unix.SIGPWR, unix.SIGSYS, unix.SIGTRAP, unix.SIGXCPU, unix.SIGXFSZ,
}

// attachSignalled is attachTerminal's error when one of endingSignals ended the attach:
// strata exits 128+n, as after SIGINT or SIGTERM.
type attachSignalled struct{ sig syscall.Signal }

func (e attachSignalled) Error() string { return "attach ended by " + e.sig.String() }

// endOnSignals returns ctx ended by any of endingSignals as well, what ended it (0 for none
// yet), and the stop that ends the catch. SIGPIPE is caught and left for the write to see.
func endOnSignals(parent context.Context) (context.Context, func() syscall.Signal, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, append([]os.Signal{unix.SIGPIPE}, endingSignals...)...)
	var got atomic.Int32
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case s := <-sigs:
				if s == unix.SIGPIPE {
					continue
				}
				got.Store(int32(s.(syscall.Signal)))
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx, func() syscall.Signal { return syscall.Signal(got.Load()) }, cancel
}

// proxySignals passes the signals strata receives on to c until stop is called, each as
// `strata kill` sends it: docker's sig-proxy kills through its API, which for a container with
// a restart policy cancels the restart (the stop signal, or any when the container names
// none) or marks it stopped by hand (unless-stopped).
func proxySignals(c *runner.Container) (stop func()) {
	// The attach beside it reloads c: each kill reads a copy of its own, taken now and
	// reloaded as `strata kill` loads the container.
	own := *c
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
				k := own
				_ = k.Reload() // on its error, the kill's says why
				_ = runner.KillAfterStart(context.Background(), &k, s.(syscall.Signal))
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
