package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/strata-run/strata/proccard"
	"github.com/strata-run/strata/runner"
	"github.com/strata-run/strata/runner/cgroups"
)

// statsInterval is how often stats samples: CPU % is the CPU time used between two samples
// over the wall time between them, as docker stats computes it. A var for tests.
var statsInterval = time.Second

// statsRow is one line of `strata stats`, and what --format templates see: docker stats's
// fields, as the strings docker's templates give ({{.CPUPerc}} is "0.51%", {{.MemUsage}}
// "352KiB / 23.54GiB", {{.PIDs}} "1"), so a template written for docker prints what it
// does there. Pids is strata's own, the number of tasks as a number.
type statsRow struct {
	// Container is the container as it was named on the command line, else its short ID.
	Container string
	ID        string
	Name      string
	CPUPerc   string
	MemUsage  string
	MemPerc   string
	// NetIO is received / sent bytes on the container's network interfaces but lo
	// ("1.2kB / 648B"), BlockIO bytes read / written on block devices, as docker's.
	NetIO   string
	BlockIO string
	PIDs    string
	Pids    uint64 `json:"-"`

	// The numbers the table prints.
	cpu, memPerc     float64
	memUse, memLimit uint64
}

// MarshalJSON is stats --format json's line: docker's {{json .}} of its stats formatter's row
// (docker/cli cli/command/container/formatter_stats.go through formatter.MarshalJSON), keys
// sorted. Pids, strata's own number, is for templates only.
func (r statsRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"BlockIO": r.BlockIO, "CPUPerc": r.CPUPerc, "Container": r.Container, "ID": r.ID,
		"MemPerc": r.MemPerc, "MemUsage": r.MemUsage, "Name": r.Name, "NetIO": r.NetIO, "PIDs": r.PIDs,
	})
}

func (statsRow) headers() map[string]string {
	return map[string]string{"Container": "CONTAINER", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
		"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
		"PIDs": "PIDS", "Pids": "PIDS"}
}

// statsTarget is a container stats shows and how it was named ("" when none was).
type statsTarget struct {
	c     *runner.Container
	named string
	// gone: a named container removed since stats started, shown with "--" as docker shows
	// one whose stats it can no longer read.
	gone bool
}

// statsSample is one reading of a container's cgroup and network namespace.
type statsSample struct {
	at           time.Time
	stats        cgroups.Stats
	netRx, netTx uint64
}

// statsOptions are stats's flags, as docker stats's.
type statsOptions struct {
	// noStream prints one sample and returns.
	noStream bool
	// all shows every container when none is named, those that do not run with nothing
	// used, as docker stats -a; else only the running ones.
	all bool
	// noTrunc shows whole container IDs.
	noTrunc bool
	format  string
}

func newStatsCmd(g *globals) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Show running containers' CPU, memory, network, block I/O and pids usage, live",
		Long: `Show CPU %, memory usage and limit, network and block I/O, and the number of tasks of containers (all running ones
when none is named, every one with -a; one that does not run shows nothing used), refreshed every second
until interrupted, or once with --no-stream.
Memory usage leaves out reclaimable page cache, as docker stats does.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd.Context(), g, cmd.OutOrStdout(), cmd.ErrOrStderr(), args, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all containers (default: the running ones), those that do not run with nothing used")
	f.BoolVar(&o.noStream, "no-stream", false, "print one sample and exit")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "show whole container IDs")
	f.StringVar(&o.format, "format", "", "json, or a Go template such as '{{.Name}} {{.CPUPerc}}'")
	return cmd
}

func runStats(ctx context.Context, g *globals, w, errW io.Writer, names []string, o statsOptions) error {
	noStream, format := o.noStream, o.format
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	hostMem := memTotal()
	clear := !noStream && format == "" && isTerminal(w)
	prev := map[string]statsSample{}
	var known []statsTarget
	for first := true; ; first = false {
		list, err := statsTargets(store, names, o.all)
		if err != nil && first {
			// An error line for each name that is no container, as docker's.
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				return eachError(errW, j.Unwrap())
			}
			return err
		}
		if err != nil {
			// A named container removed while shown: it stays, with "--", and the others go
			// on, as docker stats goes on. The stream ended 'no such container', exit 1, at
			// the first rm of any of them.
			if list, err = statsKnown(store, names, known); err != nil {
				return err
			}
		}
		known = list
		now := map[string]statsSample{}
		for _, t := range list {
			// A container whose state is lost while a live strata holds its cgroup reads
			// as exited, but its processes run in that cgroup, named by its ID: it is
			// sampled as a running one (stats showed it with nothing used). Only a lost
			// state has its cgroup's hold looked at.
			if t.gone || !(t.c.State.Running() || runner.LostWhileHeld(t.c)) {
				continue
			}
			if s, ok := sampleStats(t.c); ok {
				now[t.c.ID] = s
			}
		}
		if !first {
			var rows []statsRow
			for _, t := range list {
				cur, ok := now[t.c.ID]
				if !ok && t.named == "" && !o.all {
					continue // stopped meanwhile, and not asked for
				}
				// A named container that does not run is shown with nothing used, as
				// docker stats shows it, and so is any with -a.
				r := newStatsRow(t, prev[t.c.ID], cur, hostMem)
				if o.noTrunc {
					r.ID = t.c.ID
				}
				rows = append(rows, r)
			}
			if clear {
				fmt.Fprint(w, "\033[2J\033[H")
			}
			if err := printStats(w, rows, format); err != nil {
				return err
			}
			if noStream {
				return nil
			}
		}
		prev = now
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statsInterval):
		}
	}
}

// statsTargets resolves the named containers, running or not, or lists the running ones, or
// with all every one.
func statsTargets(store *runner.Store, names []string, all bool) ([]statsTarget, error) {
	if len(names) == 0 {
		list, err := store.List()
		if err != nil {
			return nil, err
		}
		var out []statsTarget
		for _, c := range list {
			if all || c.State.Running() {
				out = append(out, statsTarget{c: c})
			}
		}
		return out, nil
	}
	var out []statsTarget
	var errs []error
	for _, n := range names {
		c, err := findContainer(store, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, statsTarget{c: c, named: n})
	}
	return out, errors.Join(errs...)
}

// statsKnown resolves names again, as statsTargets, taking a name that no longer resolves
// from known, the previous resolution, as gone; one known does not have is an error.
func statsKnown(store *runner.Store, names []string, known []statsTarget) ([]statsTarget, error) {
	var out []statsTarget
	for i, n := range names {
		c, err := findContainer(store, n)
		switch {
		case err == nil:
			out = append(out, statsTarget{c: c, named: n})
		case errors.Is(err, runner.ErrNotFound) && i < len(known) && known[i].named == n:
			t := known[i]
			t.gone = true
			out = append(out, t)
		default:
			return nil, err
		}
	}
	return out, nil
}

// sampleStats reads c's cgroup; a container that stopped meanwhile has none.
func sampleStats(c *runner.Container) (statsSample, bool) {
	cg, err := cgroups.Load(c.CgroupKey())
	if err != nil {
		return statsSample{}, false
	}
	defer cg.Release() // and its hold: see cgroups.Sweep
	s, err := cg.Stats()
	if err != nil {
		return statsSample{}, false
	}
	pid := c.State.Pid
	if pid <= 0 {
		// A lost state names no pid: any process of the cgroup is in the container's
		// network namespace.
		if procs, err := cg.Procs(); err == nil && len(procs) > 0 {
			pid = procs[0]
		}
	}
	rx, tx := containerNetIO(c, pid)
	return statsSample{at: time.Now(), stats: s, netRx: rx, netTx: tx}, true
}

// newStatsRow computes one line from two samples of the same container; a container without
// samples (one that does not run) has nothing used.
func newStatsRow(t statsTarget, prev, cur statsSample, hostMem uint64) statsRow {
	c := t.c
	r := statsRow{Container: t.named, ID: shortID(c.ID), Name: c.Name(), Pids: cur.stats.PidsCurrent}
	if r.Container == "" {
		r.Container = r.ID
	}
	if wall := cur.at.Sub(prev.at); !prev.at.IsZero() && wall > 0 && cur.stats.CPUUsageNs >= prev.stats.CPUUsageNs {
		r.cpu = float64(cur.stats.CPUUsageNs-prev.stats.CPUUsageNs) / float64(wall.Nanoseconds()) * 100
	}
	r.memUse = cur.stats.MemoryUsage
	if cur.stats.MemoryInactiveFile < r.memUse {
		r.memUse -= cur.stats.MemoryInactiveFile
	}
	r.memLimit = cur.stats.MemoryLimit
	if !cur.at.IsZero() && (r.memLimit == 0 || (hostMem > 0 && r.memLimit > hostMem)) {
		r.memLimit = hostMem
	}
	if r.memLimit > 0 {
		r.memPerc = float64(r.memUse) / float64(r.memLimit) * 100
	}
	r.CPUPerc = fmt.Sprintf("%.2f%%", r.cpu)
	r.MemUsage = proccard.Bytes(int64(r.memUse)) + " / " + proccard.Bytes(int64(r.memLimit))
	r.MemPerc = fmt.Sprintf("%.2f%%", r.memPerc)
	r.PIDs = strconv.FormatUint(r.Pids, 10)
	r.NetIO = decimalSize(cur.netRx) + " / " + decimalSize(cur.netTx)
	r.BlockIO = decimalSize(cur.stats.BlkioRead) + " / " + decimalSize(cur.stats.BlkioWrite)
	if t.gone {
		r.CPUPerc, r.MemUsage, r.MemPerc, r.PIDs = "--", "-- / --", "--", "--"
		r.NetIO, r.BlockIO = "--", "--"
	}
	return r
}

func printStats(w io.Writer, rows []statsRow, format string) error {
	switch {
	case tableDefault(format):
	case format == "json":
		for _, r := range rows {
			if err := printTemplate(w, "{{json .}}", []statsRow{r}); err != nil {
				return err
			}
		}
		return nil
	default:
		return printTemplate(w, format, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs)
	}
	return tw.Flush()
}

// memTotal is the host's memory in bytes (MemTotal in /proc/meminfo), the limit docker stats
// shows for a container without one; 0 if unknown.
func memTotal() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseUint(fields[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// isTerminal reports whether w is a terminal, where stats redraws in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
