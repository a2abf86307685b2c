package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/runner"
)

// psRow is one line of `strata ps`, and what --format templates see.
type psRow struct {
	ID        string
	Image     string
	Command   string
	CreatedAt time.Time
	Status    string
	State     string
	Pid       int
	ExitCode  int
	Names     string
	imageID   string // for the ancestor filter
}

func (psRow) headers() map[string]string { return map[string]string{"ID": "CONTAINER ID"} }

func newPsCmd(g *globals) *cobra.Command {
	var all, quiet, noTrunc, latest bool
	var format string
	var filters []string
	last := -1
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := parsePsFilter(filters)
			if err != nil {
				return err
			}
			store, err := g.openContainers()
			if err != nil {
				return err
			}
			list, err := store.List()
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			// As docker: newest first, and -n/-l count containers of every state.
			slices.Reverse(list)
			var rows []psRow
			for _, c := range list {
				if last > 0 && len(rows) == last {
					break
				}
				if !all && last <= 0 && !filter.impliesAll() && !c.State.Running() {
					continue
				}
				if r := newPsRow(c); filter.match(r) {
					rows = append(rows, r)
				}
			}
			return printPs(cmd.OutOrStdout(), rows, quiet, noTrunc, format)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "show whole IDs and commands")
	f.IntVarP(&last, "last", "n", -1, "show the n last created containers (of every state)")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest created container (of every state)")
	f.StringVar(&format, "format", "", "json, or a Go template such as '{{.ID}} {{.Names}}'")
	f.StringArrayVarP(&filters, "filter", "f", nil, "show only containers that match: id=, name= (a regular expression), status=, exited= or ancestor= (repeatable)")
	return cmd
}

func newPsRow(c *runner.Container) psRow {
	st := c.State
	r := psRow{
		ID:        c.ID,
		Image:     c.Config.Image,
		Command:   strings.Join(c.Config.Spec.Args, " "),
		CreatedAt: c.Config.Created,
		State:     string(st.Status),
		Pid:       st.Pid,
		ExitCode:  st.ExitCode,
		Names:     c.Name(),
		imageID:   c.Config.ImageID,
	}
	switch {
	case c.Broken != nil:
		// Its files cannot be read (runner.ErrBroken): docker's word for a container that
		// can only be removed. The state of a broken container that still runs is kept for
		// stop and rm -f, but its config is not there to run it again.
		r.State = string(runner.StatusDead)
		r.Status = "Dead"
	case st.Status == runner.StatusRunning: // exiting, when not st.Running()
		r.State = string(runner.StatusRunning)
		r.Status = "Up " + humanDuration(time.Since(st.StartedAt))
	case st.Status == runner.StatusCreated:
		r.Status = "Created"
	default:
		r.State = string(runner.StatusExited)
		r.Status = fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(time.Since(st.FinishedAt)))
		if st.FinishedAt.IsZero() {
			r.Status = fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
	}
	return r
}

func printPs(w io.Writer, rows []psRow, quiet, noTrunc bool, format string) error {
	id := shortID
	if noTrunc {
		id = func(s string) string { return s }
	}
	if quiet {
		for _, r := range rows {
			fmt.Fprintln(w, id(r.ID))
		}
		return nil
	}
	if format != "" {
		// --format json and templates show IDs as the table does, as docker's do.
		rows = slices.Clone(rows)
		for i := range rows {
			rows[i].ID = id(rows[i].ID)
		}
	}
	switch {
	case format == "json":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case !tableDefault(format):
		return printTemplate(w, format, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
	for _, r := range rows {
		command := r.Command
		if len(command) > 20 && !noTrunc {
			command = command[:19] + "…"
		}
		fmt.Fprintf(tw, "%s\t%s\t%q\t%s\t%s\t%s\n", id(r.ID), r.Image, command, humanSince(r.CreatedAt), r.Status, r.Names)
	}
	return tw.Flush()
}

// humanDuration words d as docker does (go-units' HumanDuration), for ps's STATUS and the
// CREATED columns: "5 seconds", "About a minute", "3 hours", "2 weeks".
func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	minutes := int(d.Minutes())
	hours := int(d.Hours() + 0.5)
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds < 60:
		return plural(seconds, "second")
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return plural(minutes, "minute")
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return plural(hours, "hour")
	case hours < 24*7*2:
		return plural(hours/24, "day")
	case hours < 24*30*2:
		return plural(hours/24/7, "week")
	case hours < 24*365*2:
		return plural(hours/24/30, "month")
	}
	return plural(int(d.Hours())/24/365, "year")
}
