package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/proccard"
	"github.com/strata-run/strata/runner"
)

func newTopCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "List the processes of a running container, with host and container PIDs",
		Long: `List the processes of a running container, as docker top does: the host's ps runs (with
-ef, or the ps options after the container: strata top web aux, strata top web -eo pid,comm)
and only the container's lines are kept. On a host without ps, the processes are listed from
/proc: host PID, PID inside the container, user and command.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, c, err := g.getContainer(args[0])
			if err != nil {
				return err
			}
			procs, err := containerProcesses(c)
			if err != nil {
				return fmt.Errorf("container %s: %w", args[0], err)
			}
			err = containerTop(cmd.OutOrStdout(), procs, args[1:])
			if err == nil {
				runner.Event(c, "top", nil) // as docker's daemon logs each top
			}
			return err
		},
	}
	// Everything after CONTAINER is ps's.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// containerTop prints procs as docker top does: the host's ps run with psArgs, or with -ef
// when there are none, as docker's daemon runs it (daemon/top_unix.go), so the columns are
// docker's UID PID PPID C STIME TTY TIME CMD. A host without ps still gets a listing, strata's
// own from /proc (printTop), where docker's top fails.
func containerTop(w io.Writer, procs []proccard.Process, psArgs []string) error {
	if len(psArgs) > 0 {
		return psTop(w, procs, psArgs)
	}
	err := psTop(w, procs, []string{"-ef"})
	if errors.Is(err, exec.ErrNotFound) {
		return printTop(w, procs)
	}
	return err
}

// psTop runs the host's ps with args and prints the lines of procs' processes, as docker top
// does with its ps options.
func psTop(w io.Writer, procs []proccard.Process, args []string) error {
	if err := checkPsRenames(args); err != nil {
		return err
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			first, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n")
			err = fmt.Errorf("%w: %s", err, escapeUnprintable(first))
		}
		return fmt.Errorf("running ps %s: %w", strings.Join(args, " "), err)
	}
	return printPsTop(w, out, procs)
}

// checkPsRenames refuses ps options that title a column other than pid "PID" (-o rss=PID,
// -o user=PID,pid, -o "pid=x PID" -o rss), as docker's daemon refuses them (validatePSArgs:
// specifying "rss=PID" is not allowed): the lines are kept by the column titled PID, so such a
// column would keep every host process whose RSS, user or any other value read as one of the
// container's PIDs. docker looks only for "KEY=PID..." after a space of the joined options;
// this looks at every header given in any of them, whatever comes before it, and at every
// word of it.
func checkPsRenames(args []string) error {
	for _, a := range args {
		for _, spec := range strings.Split(strings.TrimPrefix(a, "--format="), ",") {
			k, v, ok := strings.Cut(spec, "=")
			if !ok {
				continue
			}
			words := strings.Fields(v)
			if !slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, "PID") }) {
				continue
			}
			// The key as given glued to its option: -opid, opid, -Opid.
			key := strings.TrimLeft(k, "-")
			if len(key) == 4 && (key[0] == 'o' || key[0] == 'O') {
				key = key[1:]
			}
			if key != "pid" || len(words) != 1 {
				return fmt.Errorf("specifying %q is not allowed", escapeUnprintable(strings.TrimSpace(k)+"="+strings.TrimSpace(v)))
			}
		}
	}
	return nil
}

// printPsTop keeps, of ps's output, the header and the lines of procs' processes (by the PID
// column), and the thread lines ("-" for a PID, with ps -m) after one of them, as docker's
// parsePSOutput. The last column keeps its spaces; the container's command line is printed
// with its control characters escaped.
func printPsTop(w io.Writer, out []byte, procs []proccard.Process) error {
	lines := strings.Split(string(out), "\n")
	titles := strings.Fields(lines[0])
	pidCol := slices.Index(titles, "PID")
	if pidCol < 0 {
		return errors.New("ps's output has no PID column")
	}
	pids := map[int]bool{}
	for _, p := range procs {
		pids[p.Pid] = true
	}
	// Rendered whole first: an error met on a later line prints nothing (a tabwriter writes
	// a line without a cell, a lone PID title, at once).
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	inside := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= pidCol {
			continue
		}
		if f[pidCol] != "-" {
			p, err := strconv.Atoi(f[pidCol])
			if err != nil {
				return fmt.Errorf("ps's output: unexpected pid %q", f[pidCol])
			}
			inside = pids[p]
		}
		if !inside {
			continue
		}
		if len(f) > len(titles) {
			f = append(f[:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
		}
		for i := range f {
			f[i] = escapeUnprintable(f[i])
		}
		fmt.Fprintln(tw, strings.Join(f, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// containerProcesses lists the processes of c, running. See proccard.ProcessesOf.
func containerProcesses(c *runner.Container) ([]proccard.Process, error) {
	pid := c.RunningPid()
	if pid == 0 && c.State.Restarting {
		return nil, runner.ErrRestarting
	}
	if pid == 0 {
		return nil, runner.NotRunningError(c)
	}
	procs, err := proccard.ProcessesOf(pid, func() bool { return c.RunningPid() == pid })
	if errors.Is(err, proccard.ErrNoProcess) {
		return nil, runner.ErrNotRunning
	}
	// Its pid namespace may be shared (--pid): only its own processes are listed.
	return slices.DeleteFunc(procs, func(p proccard.Process) bool { return !c.ListsProcess(p.Pid) }), err
}

// printTop, top's listing on a host without ps, prints one line per process: the host PID, the PID inside the container, the
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
