package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-run/strata/runner"
)

func newExecCmd(g *globals) *cobra.Command {
	var o runner.ExecOptions
	var envFiles []string
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container, as docker exec does: in all of its namespaces, in its
cgroup and root, with its environment, user, capabilities and seccomp filter. The exit status is
the command's (126 if it cannot be executed, 127 if it is not found).`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The container first, as docker's CLI inspects it before it checks the terminal:
			// "no such container" wins over "the input device is not a TTY".
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return withCode(execRefusedCode, err)
			}
			if !o.Detach {
				if err := checkTTY(o.Stdin, o.Terminal, os.Stdin); err != nil {
					return withCode(ttyErrorCode, err)
				}
			}
			// Then the container's state and the keys, as docker's daemon checks them at the
			// exec's creation, which its CLI asks for once the container and the terminal have
			// passed: "not running" wins over bad keys. Exec checks the state again.
			if err := runner.CheckExec(c); err != nil {
				return &exitError{code: execRefusedCode, err: err}
			}
			keys, err := runner.ParseDetachKeys(detachKeys)
			if err != nil {
				return usageErrorCode(cmd, fmt.Errorf("invalid --detach-keys %s: %w", quoteValue(detachKeys), err), execRefusedCode)
			}
			if o.Terminal && o.Stdin && !o.Detach {
				// Read on the user's terminal only, as docker's CLI reads them (its escape
				// proxy) only on the input of a -t exec: without, they are the command's.
				o.DetachKeys = keys
			}
			if len(envFiles) > 0 {
				fromFiles, err := runner.MergeEnv(nil, nil, envFiles)
				if err != nil {
					// docker's CLI reads them in parseExec and returns the error as it is.
					return withCode(execRefusedCode, err)
				}
				o.Env = append(fromFiles, o.Env...)
			}
			o.Args = args[1:]
			// Not cancelled on SIGINT or SIGTERM: runner forwards those to the command, which
			// decides, as docker exec's signal proxy does.
			done := runner.ExecEvents(c, o.Args)
			code, err := runner.Exec(context.WithoutCancel(cmd.Context()), c, o, runner.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
			if errors.Is(err, runner.ErrDetached) {
				// docker's words, on a line of their own after whatever the terminal shows,
				// and its exit 1, as attach's detach; the command runs on.
				fmt.Fprintln(cmd.ErrOrStderr(), "\r\n"+runner.ErrDetached.Error())
				return silentExit(1)
			}
			if !o.Detach { // a detached command's end is no one's to see here
				done(code, err)
			}
			if err != nil && (refusedExec(err) || o.Detach && notStarted(err)) {
				// docker's daemon refuses a container that stopped or was paused or removed
				// meanwhile at the exec's creation, and returns a detached command's failure
				// to start (not found or not executable, a user or working directory runc
				// cannot take: 127 or 126 when attached) as the API call's error: its CLI
				// exits 1 for both.
				return &exitError{code: execRefusedCode, err: err}
			}
			return exitWith(code, err)
		},
	}
	f := cmd.Flags()
	// Everything after CONTAINER belongs to the command.
	f.SetInterspersed(false)
	f.BoolVarP(&o.Stdin, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&o.Terminal, "tty", "t", false, "allocate a pseudo-terminal")
	f.BoolVarP(&o.Detach, "detach", "d", false, "run the command in the background")
	stringArrayVar(f, &o.Env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to take it from here, or unset it if unset here)")
	stringArrayVar(f, &envFiles, "env-file", "", nil, "read environment variables from a file")
	f.StringVarP(&o.Cwd, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&o.User, "user", "u", "", "user[:group] to run as (name or number)")
	f.StringVar(&detachKeys, "detach-keys", runner.DefaultDetachKeys, "with -it, the keys that detach, leaving the command running (as attach's)")
	f.BoolVar(&o.Privileged, "privileged", false, "give the command every capability (the container's seccomp filter and no_new_privs stay, as docker's)")
	return cmd
}

// execRefusedCode is exec's exit code when docker's daemon would refuse it through its API:
// no such container, one that is not running, paused (or broken: no daemon would list it),
// detach keys it cannot read, and any failure to start a detached command. docker's CLI
// returns the daemon's error as it is and exits 1 for it, as it does for an --env-file it
// cannot read; only its own flag errors are 125 and an attached command's status 126 or 127
// (cli/command/container/exec.go RunExec, cmd/docker getExitCode).
const execRefusedCode = 1

// refusedExec says whether err, from runner.Exec, is the container's state as CheckExec
// would have refused it: it stopped, was paused or removed after the check.
func refusedExec(err error) bool {
	return errors.Is(err, runner.ErrNotRunning) || errors.Is(err, runner.ErrPaused) || errors.Is(err, runner.ErrNotFound)
}

// notStarted says whether err, from runner.Exec, is the command's failure to start: 126 or
// 127, the exit status of an attached exec that fails so.
func notStarted(err error) bool {
	var ec *runner.ExitCodeError
	return errors.As(err, &ec) && (ec.Code == runner.ExitCannotInvoke || ec.Code == runner.ExitNotFound)
}

// ttyErrorCode is the exit code of checkTTY's refusal: docker's CLI returns that error as it
// is, before it asks the daemon anything, and exits 1, not 125.
const ttyErrorCode = 1

// checkTTY refuses -i with -t when stdin is no terminal, as docker does: the command's pty
// never sees the end of a piped input, so `echo x | strata exec -it c cat` hung.
func checkTTY(interactive, tty bool, stdin *os.File) error {
	if interactive && tty && !term.IsTerminal(int(stdin.Fd())) {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

// exitWith turns a runner result into strata's exit: the command's own status silently, or
// the error with its code (125, 126, 127).
func exitWith(code int, err error) error {
	if err == nil {
		return silentExit(code)
	}
	var ec *runner.ExitCodeError
	if errors.As(err, &ec) {
		return &exitError{code: ec.Code, err: err}
	}
	return withCode(runner.ExitOwnError, err)
}
