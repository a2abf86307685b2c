package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

func newEnterCmd(g *globals) *cobra.Command {
	var o runner.EnterOptions
	cmd := &cobra.Command{
		Use:   "enter [OPTIONS] CONTAINER -- COMMAND [ARG...]",
		Short: "Run a host tool inside a running container's namespaces",
		Long: `Run a command from the HOST (ip, ss, tcpdump, strace, gdb, a shell) inside some namespaces of
a running container, so images without tools (scratch, distroless) can be debugged. The host's
files stay visible; the container's root is at /proc/<pid>/root (strata inspect -f
'{{.State.Pid}}'). The command runs as root with all capabilities and no seccomp filter, outside
the container's cgroup. --ns defaults to net; all joins mnt, uts, ipc, pid, net and cgroup.
With pid (or all) /proc stays the host's, by design, so ps and top list the host's processes:
see the container's with 'strata top CONTAINER' or in /proc/<pid>/root/proc. Joining pid
puts a privileged host process where the container can see it: one that can ptrace (given
SYS_PTRACE, --privileged, or an exec --privileged) may take it over and reach the host, as
with nsenter. Join pid only with containers you trust.`,
		Example: `  strata enter web -- ip addr
  strata enter --ns net,pid web -- ss -tlnp
  strata enter --ns all web -- sh`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := runner.ParseNamespaces(o.Namespaces); err != nil {
				return withCode(runner.ExitOwnError, err)
			}
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return withCode(runner.ExitOwnError, err)
			}
			// Stdin is always attached (below), so -t is exec's -it: on a pipe the command's
			// pty never sees the input end, and `echo x | strata enter -t c -- cat` hung.
			if err := checkTTY(true, o.Terminal, os.Stdin); err != nil {
				return withCode(ttyErrorCode, err)
			}
			// Flags stop at CONTAINER, so the "--" that may follow it arrives as an argument.
			o.Args = args[1:]
			if o.Args[0] == "--" {
				o.Args = o.Args[1:]
			}
			if len(o.Args) == 0 {
				return withCode(runner.ExitOwnError, errors.New("enter: no command given after the container"))
			}
			o.Stdin = true // as nsenter: a debugging shell reads the user's input
			// Not cancelled on SIGINT or SIGTERM: runner forwards those to the command, which
			// decides, as docker exec's signal proxy does.
			code, err := runner.Enter(context.WithoutCancel(cmd.Context()), c, o, runner.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
			return exitWith(code, err)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringSliceVar(&o.Namespaces, "ns", nil, "namespaces to join: net, pid, uts, ipc, mnt, cgroup or all (default net)")
	f.BoolVarP(&o.Terminal, "tty", "t", false, "allocate a pseudo-terminal")
	f.StringVarP(&o.Cwd, "workdir", "w", "", "working directory, a host path (default: the current one)")
	return cmd
}
