package main

import (
	"bufio"
	"context"
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
// over the wall time between them, as docker stats computes it.
const statsInterval = time.Second

// statsRow is one line of `strata stats`, and what --format templates see.
type statsRow struct {
	ID       string
	Name     string
	CPUPerc  float64
	MemUsage uint64
	MemLimit uint64
	MemPerc  float64
	Pids     uint64
}

func (statsRow) headers() map[string]string {
	return map[string]string{"ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemPerc": "MEM %"}
}

// statsSample is one reading of a container's cgroup.
type statsSample struct {
	at    time.Time
	stats cgroups.Stats
}

func newStatsCmd(g *globals) *cobra.Command {
	var noStream bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Show running containers' CPU, memory and pids usage, live",
		Long: `Show CPU %, memory usage and limit, and the number of tasks of running containers (all of
them when none is named), refreshed every second until interrupted, or once with --no-stream.
Memory usage leaves out reclaimable page cache, as docker stats does.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd.Context(), g, cmd.OutOrStdout(), args, noStream, format)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	f.StringVar(&format, "format", "", "json, or a Go template such as '{{.Name}} {{.CPUPerc}}'")
	return cmd
}

func runStats(ctx context.Context, g *globals, w io.Writer, names []string, noStream bool, format string) error {
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	hostMem := memTotal()
	clear := !noStream && format == "" && isTerminal(w)
	prev := map[string]statsSample{}
	for first := true; ; first = false {
		list, err := statsTargets(store, names)
		if err != nil {
			return err
		}
		now := map[string]statsSample{}
		for _, c := range list {
			if s, ok := sampleStats(c); ok {
				now[c.ID] = s
			}
		}
		if !first {
			var rows []statsRow
			for _, c := range list {
				cur, ok := now[c.ID]
				if !ok {
					continue
				}
				rows = append(rows, newStatsRow(c, prev[c.ID], cur, hostMem))
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

// statsTargets resolves the named containers (each must run), or lists the running ones.
func statsTargets(store *runner.Store, names []string) ([]*runner.Container, error) {
	if len(names) == 0 {
		all, err := store.List()
		if err != nil {
			return nil, err
		}
		var out []*runner.Container
		for _, c := range all {
			if c.State.Running() {
				out = append(out, c)
			}
		}
		return out, nil
	}
	var out []*runner.Container
	var errs []error
	for _, n := range names {
		c, err := findContainer(store, n)
		if err == nil && !c.State.Running() {
			err = fmt.Errorf("container %s: %w", n, runner.ErrNotRunning)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// sampleStats reads c's cgroup; a container that stopped meanwhile has none.
func sampleStats(c *runner.Container) (statsSample, bool) {
	cg, err := cgroups.Load(c.ID)
	if err != nil {
		return statsSample{}, false
	}
	defer cg.Release() // and its hold: see cgroups.Sweep
	s, err := cg.Stats()
	if err != nil {
		return statsSample{}, false
	}
	return statsSample{at: time.Now(), stats: s}, true
}

// newStatsRow computes one line from two samples of the same container.
func newStatsRow(c *runner.Container, prev, cur statsSample, hostMem uint64) statsRow {
	r := statsRow{ID: c.ID, Name: c.Name(), Pids: cur.stats.PidsCurrent}
	if wall := cur.at.Sub(prev.at); !prev.at.IsZero() && wall > 0 && cur.stats.CPUUsageNs >= prev.stats.CPUUsageNs {
		r.CPUPerc = float64(cur.stats.CPUUsageNs-prev.stats.CPUUsageNs) / float64(wall.Nanoseconds()) * 100
	}
	r.MemUsage = cur.stats.MemoryUsage
	if cur.stats.MemoryInactiveFile < r.MemUsage {
		r.MemUsage -= cur.stats.MemoryInactiveFile
	}
	r.MemLimit = cur.stats.MemoryLimit
	if r.MemLimit == 0 || (hostMem > 0 && r.MemLimit > hostMem) {
		r.MemLimit = hostMem
	}
	if r.MemLimit > 0 {
		r.MemPerc = float64(r.MemUsage) / float64(r.MemLimit) * 100
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
	fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\n", shortID(r.ID), r.Name, r.CPUPerc,
			proccard.Bytes(int64(r.MemUsage)), proccard.Bytes(int64(r.MemLimit)), r.MemPerc, r.Pids)
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
