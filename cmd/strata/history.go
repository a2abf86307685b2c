package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
)

// historyRow is one step of an image's history as docker history shows it, and what its
// --format templates and --format json see: docker's placeholders with docker's values
// (strings), in the order docker's JSON lists them.
type historyRow struct {
	Comment      string
	CreatedAt    string
	CreatedBy    string
	CreatedSince string
	ID           string
	Size         string
}

func (historyRow) headers() map[string]string {
	return map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY"}
}

// docker's default tables: with -H (the default) and without.
const (
	historyTable      = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	historyTableExact = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
)

// historyStep is one entry of the config's history with the size of its layer.
type historyStep struct {
	created time.Time
	// dated is whether the config gave created, even as the zero time (0001-01-01), which
	// docker prints; a step it gives none is shown created at the epoch, as docker shows it.
	dated     bool
	createdBy string
	comment   string
	size      int64
}

func newHistoryCmd(g *globals) *cobra.Command {
	var human, quiet, noTrunc bool
	var format, platform string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image: the steps that built it, newest first, with their layers' sizes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			want, err := platformFlag(platform)
			if err != nil {
				return err
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			id, steps, err := imageHistory(store, args[0], want)
			if err != nil {
				return err
			}
			return printHistory(cmd.OutOrStdout(), id, steps, human, quiet, noTrunc, format, time.Now())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&human, "human", "H", true, "print sizes and dates in human readable format")
	f.BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&noTrunc, "no-trunc", false, "show whole IDs and CREATED BY")
	f.StringVar(&format, "format", "", "json, or a Go template such as '{{.CreatedBy}} {{.Size}}'")
	f.StringVar(&platform, "platform", "", "os/arch[/variant]: show that platform's image of a multi-platform one")
	return cmd
}

// imageHistory finds the image arg names (for want, of a multi-platform one) and returns its
// ID and its history, oldest first: the config's history entries, each with the size in the
// store (compressed, as images shows sizes) of the layer it made, 0 for an empty_layer
// entry. Layers the history does not account for (an image built without one) are steps
// of their own, created when the image was.
func imageHistory(store *cache.Store, arg string, want *v1.Platform) (string, []historyStep, error) {
	r, err := findRef(store, arg)
	if err != nil {
		return "", nil, err
	}
	info, err := store.Info(r)
	if err != nil {
		return "", nil, err
	}
	if want != nil {
		if info, err = platformInfo(store, r, info, *want); err != nil {
			return "", nil, err
		}
	}
	var steps []historyStep
	layer := 0
	for i, h := range info.Config.History {
		s := historyStep{created: h.Created.Time, createdBy: h.CreatedBy, comment: h.Comment}
		s.dated = !s.created.IsZero() || (i < len(info.HistoryHasCreated) && info.HistoryHasCreated[i])
		if !h.EmptyLayer && layer < len(info.Layers) {
			s.size = info.Layers[layer].Size
			layer++
		}
		steps = append(steps, s)
	}
	for ; layer < len(info.Layers); layer++ {
		steps = append(steps, historyStep{created: info.Created, dated: !info.Created.IsZero() || info.HasCreated, size: info.Layers[layer].Size})
	}
	return info.ID.String(), steps, nil
}

// printHistory prints steps newest first, as docker history does: the newest step is the
// image (its ID), the others <missing>, as docker shows the steps of an image it pulled.
func printHistory(w io.Writer, id string, steps []historyStep, human, quiet, noTrunc bool, format string, now time.Time) error {
	rows := make([]historyRow, 0, len(steps))
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		row := historyRow{ID: "<missing>", Comment: s.comment, CreatedBy: strings.ReplaceAll(s.createdBy, "\t", " ")}
		if format != "json" {
			// The steps are the image's config, the registry's words: an escape sequence
			// there would drive the user's terminal, a newline break the table. JSON
			// escapes them itself.
			row.CreatedBy, row.Comment = escapeUnprintable(row.CreatedBy), escapeUnprintable(row.Comment)
		}
		if i == len(steps)-1 {
			row.ID = imageID(id, noTrunc)
		}
		created := time.Unix(0, 0) // docker's for an unknown time: the epoch
		if s.dated {
			created = s.created
		}
		row.CreatedAt = created.Local().Format(time.RFC3339)
		if !noTrunc {
			row.CreatedBy = ellipsis(row.CreatedBy, 45)
		}
		switch {
		case !human:
			row.CreatedSince = row.CreatedAt
			row.Size = strconv.FormatInt(s.size, 10)
		default:
			// Docker leaves a time before 2000 blank: a build that zeroed its dates.
			if created.After(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
				row.CreatedSince = humanDuration(now.Sub(created)) + " ago"
			}
			row.Size = humanSize(s.size)
		}
		rows = append(rows, row)
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
	case quiet:
		for _, r := range rows {
			fmt.Fprintln(w, r.ID)
		}
		return nil
	case !human:
		return printTemplate(w, historyTableExact, rows)
	}
	return printTemplate(w, historyTable, rows)
}
