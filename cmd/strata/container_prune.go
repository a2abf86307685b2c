package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/runner"
)

// containerPruneWarning is docker's question before `container prune` removes anything.
const containerPruneWarning = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"

// newContainerPruneCmd is docker's `container prune`: it removes every container that does
// not run (created, exited, dead), after asking unless -f, and prints their IDs and the space
// their writes took, as docker's does.
func newContainerPruneCmd(g *globals) *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, err := parseContainerPruneFilter(filters, time.Now())
			if err != nil {
				return err
			}
			if !force {
				yes, err := confirm(ctx, cmd.InOrStdin(), cmd.OutOrStdout(), containerPruneWarning)
				if err != nil || !yes {
					return err
				}
			}
			store, err := g.openContainers()
			if err != nil {
				return err
			}
			list, err := store.List()
			if err != nil {
				return err
			}
			// The --rm containers whose monitor is gone are no one's to list: ps never shows
			// them, and prune does not name them as its own.
			list, _ = store.RemoveOrphans(list)
			res, err := pruneContainers(ctx, prunableContainers(list, f, containerLabels),
				func(c *runner.Container) error { return store.RemoveOwn(ctx, c, false) },
				func(c *runner.Container) int64 { return prunedSize(g, c) })
			// As rm's sweep: best effort, no failure of this prune.
			_ = store.SweepLeftovers()
			pruneEvent(g, events.Container, res.freed)
			printContainerPrune(cmd.OutOrStdout(), res)
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	stringArrayVar(fl, &filters, "filter", "", nil, "until=TIME (a duration such as 10m, a time, a Unix time): remove only the containers created before it; label=KEY[=VALUE], label!=KEY[=VALUE]: only those with, or without, the label (repeatable)")
	return cmd
}

// containerPruneFilter is `container prune --filter`, as docker's daemon reads it: until=
// bounds the creation time, label= and label!= the labels.
type containerPruneFilter struct {
	until time.Time
	// labels and notLabels are KEY or KEY=VALUE, as given.
	labels, notLabels []string
}

// parseContainerPruneFilter reads --filter values, until= durations taken back from now.
// Errors are worded as ps's and images's: an unknown key, a second until=, a bad time.
func parseContainerPruneFilter(args []string, now time.Time) (*containerPruneFilter, error) {
	f := &containerPruneFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %s: want KEY=VALUE", quoteValue(a))
		}
		switch k {
		case "until":
			if !f.until.IsZero() {
				// docker: "more than one until filter specified".
				return nil, fmt.Errorf("invalid --filter %s: until given twice", quoteValue(a))
			}
			t, err := parseLogTime("--filter until", v, now)
			if err != nil {
				return nil, err
			}
			if t.IsZero() {
				return nil, fmt.Errorf("invalid --filter %s: want a time or a duration", quoteValue(a))
			}
			f.until = t
		case "label", "label!":
			if key, _, _ := strings.Cut(v, "="); key == "" {
				return nil, fmt.Errorf("invalid --filter %s: want %s=KEY or %s=KEY=VALUE", quoteValue(a), k, k)
			}
			if k == "label" {
				f.labels = append(f.labels, v)
			} else {
				f.notLabels = append(f.notLabels, v)
			}
		default:
			return nil, fmt.Errorf("invalid --filter %s: unknown key %s (want until, label or label!)", quoteValue(a), quoteValue(k))
		}
	}
	return f, nil
}

// matchLabels is docker's prune label check: the container has every label= label (with its
// value, when one is given), and not all of the label!= ones. A container without labels
// passes no label= filter and every label!= one.
func (f *containerPruneFilter) matchLabels(labels map[string]string) bool {
	if len(f.labels) > 0 && !hasAllLabels(f.labels, labels) {
		return false
	}
	return len(f.notLabels) == 0 || !hasAllLabels(f.notLabels, labels)
}

// hasAllLabels is docker's filters.Args.MatchKVList over one key's values.
func hasAllLabels(want []string, labels map[string]string) bool {
	if len(labels) == 0 {
		return false
	}
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// containerLabels are c's labels, which the label filters look at.
func containerLabels(c *runner.Container) map[string]string { return c.Config.Labels }

// prunableContainers are the containers of list, as Store.List returns them (oldest first),
// that container prune removes, newest first as docker lists them: those that do not run
// (created, exited but not restarting, and dead: broken ones, which can only be removed) and
// that f passes. A
// running state whose container is exiting stays, as ps shows it running.
func prunableContainers(list []*runner.Container, f *containerPruneFilter, labelsOf func(*runner.Container) map[string]string) []*runner.Container {
	var out []*runner.Container
	for _, c := range slices.Backward(list) {
		if c.State.Status == runner.StatusRunning || c.State.Restarting {
			continue // a restarting one runs again after its backoff, as docker counts it running
		}
		// docker keeps a container created after until; one created at it goes.
		if !f.until.IsZero() && c.Config.Created.After(f.until) {
			continue
		}
		if !f.matchLabels(labelsOf(c)) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// containerPruneResult is what a prune removed: the full IDs, in order, and the bytes their
// writes took.
type containerPruneResult struct {
	deleted []string
	freed   int64
}

// pruneContainers removes each of list with remove, measured first with size. A container
// that remove refuses as running was started since it was listed (a prune races with start):
// it is skipped without a word, as one removed meanwhile by another rm. Other failures are
// joined in err and the others still removed; a cancelled ctx stops before the next one.
func pruneContainers(ctx context.Context, list []*runner.Container, remove func(*runner.Container) error, size func(*runner.Container) int64) (containerPruneResult, error) {
	var res containerPruneResult
	var errs []error
	for _, c := range list {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		n := size(c)
		if err := remove(c); err != nil {
			if !errors.Is(err, runner.ErrRunning) && !errors.Is(err, runner.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		res.deleted = append(res.deleted, c.ID)
		res.freed += n
	}
	return res, errors.Join(errs...)
}

// prunedSize is what removing c frees: its writes, as ps -s and system df measure them. A
// container that cannot be measured counts nothing (it is removed all the same), and so does
// a broken one whose dir is no directory: nothing under it may be opened.
func prunedSize(g *globals, c *runner.Container) int64 {
	if fi, err := os.Lstat(c.Dir); err != nil || !fi.IsDir() {
		return 0
	}
	n, err := containerSize(g, c)
	if err != nil {
		return 0
	}
	return n
}

// printContainerPrune prints res as docker's container prune does: the deleted IDs under
// their heading and a blank line, when there are any, then the total.
func printContainerPrune(w io.Writer, res containerPruneResult) {
	if len(res.deleted) > 0 {
		fmt.Fprintf(w, "Deleted Containers:\n%s\n\n", strings.Join(res.deleted, "\n"))
	}
	fmt.Fprintf(w, "Total reclaimed space: %s\n", dockerHumanSize(res.freed))
}

// dockerHumanSize is docker's units.HumanSize, which its prunes print: decimal units and four
// significant digits ("1.234kB", "212B"), where ps and images show three (humanSize).
func dockerHumanSize(n int64) string {
	f := float64(n)
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// confirm asks question, followed by " [y/N] ", on out and reads one line from in, as docker's
// prompt: true for y or yes (any case, blanks around it). An interrupt while it waits answers
// no, after a newline, as docker's.
func confirm(ctx context.Context, in io.Reader, out io.Writer, question string) (bool, error) {
	if _, err := fmt.Fprint(out, question+" [y/N] "); err != nil {
		return false, err
	}
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(in).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(out)
		return false, nil
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}
