package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/proccard"
	"github.com/strata-run/strata/runner"
)

func newTopCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "List the processes of a running container, with host and container PIDs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			procs, err := containerProcesses(c)
			if err != nil {
				return fmt.Errorf("container %s: %w", args[0], err)
			}
			return printTop(cmd.OutOrStdout(), procs)
		},
	}
}

// containerProcesses lists the processes of c, running. See proccard.ProcessesOf.
func containerProcesses(c *runner.Container) ([]proccard.Process, error) {
	pid := c.RunningPid()
	if pid == 0 {
		return nil, runner.ErrNotRunning
	}
	procs, err := proccard.ProcessesOf(pid, func() bool { return c.RunningPid() == pid })
	if errors.Is(err, proccard.ErrNoProcess) {
		return nil, runner.ErrNotRunning
	}
	return procs, err
}

// printTop prints one line per process: the host PID, the PID inside the container, the
// user (the host's name for the uid, else the number) and the command.
func printTop(w io.Writer, procs []proccard.Process) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "PID\tCONTAINER PID\tUSER\tCOMMAND")
	for _, p := range procs {
		inner := "-"
		switch {
		case p.ContainerPid > 0: // a process in a pid namespace nested in the container's too
			inner = strconv.Itoa(p.ContainerPid)
		case len(p.NSpid) > 0:
			inner = strconv.Itoa(p.NSpid[len(p.NSpid)-1])
		}
		user := p.User
		if user == "" {
			user = strconv.Itoa(p.UID)
		}
		command := strings.Join(p.Command, " ")
		if command == "" {
			command = "[" + p.Comm + "]"
		}
		if p.State == "Z" {
			// As ps and docker top show one: exited, its parent has not reaped it.
			command += " <defunct>"
		}
		// The container sets its own argv: an escape sequence in it must not reach the
		// terminal of whoever looks, nor a tab shift the columns.
		command = escapeUnprintable(command)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.Pid, inner, user, command)
	}
	return tw.Flush()
}
