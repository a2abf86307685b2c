package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/archive"
	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/runner"
)

type systemPruneOptions struct {
	all, force, volumes, dryRun bool
	filters                     []string
}

// newSystemPruneCmd is docker's `system prune`: the stopped containers, then the dangling
// images (with -a every image no container uses) and what no image or container needs any
// more (layer dirs, blobs, partial downloads), after asking unless -f, reported as docker's.
func newSystemPruneCmd(g *globals) *cobra.Command {
	var o systemPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove stopped containers, dangling images (-a: unused ones) and unused layers and blobs",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSystemPrune(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "remove every image no container uses, not only dangling ones")
	f.BoolVarP(&o.force, "force", "f", false, "do not prompt for confirmation")
	f.BoolVar(&o.volumes, "volumes", false, "prune anonymous volumes: strata's go with their containers, so this adds nothing")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be removed, remove nothing")
	stringArrayVar(f, &o.filters, "filter", "", nil, "until=TIME (a duration such as 24h, or a time), label=KEY[=VALUE], label!=KEY[=VALUE]: prune only the containers and images that pass (repeatable)")
	return cmd
}

// systemPruneWarning is docker's question, listing what strata's prune removes: docker's
// lines for networks and build cache name what strata has not.
func systemPruneWarning(o systemPruneOptions) string {
	items := []string{"all stopped containers"}
	if o.volumes {
		items = append(items, "all anonymous volumes not used by at least one container")
	}
	if o.all {
		items = append(items, "all images without at least one container associated to them")
	} else {
		items = append(items, "all dangling images")
	}
	items = append(items, "all layers and blobs no image or container uses")
	var b strings.Builder
	b.WriteString("WARNING! This will remove:\n")
	for _, it := range items {
		b.WriteString("  - " + it + "\n")
	}
	if len(o.filters) > 0 {
		fs := append([]string{}, o.filters...)
		sort.Strings(fs)
		b.WriteString("\n  Items to be pruned will be filtered with:\n")
		for _, f := range fs {
			b.WriteString("  - " + escapeUnprintable(f) + "\n")
		}
	}
	b.WriteString("\nAre you sure you want to continue?")
	return b.String()
}

func runSystemPrune(cmd *cobra.Command, g *globals, o systemPruneOptions) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	now := time.Now()
	cf, err := parseContainerPruneFilter(o.filters, now)
	if err != nil {
		return err
	}
	imf, err := pruneFilter(o.filters, now)
	if err != nil {
		return err
	}
	if o.dryRun {
		if err := dryRunContainers(g, cf, out); err != nil {
			return err
		}
		return runPrune(ctx, g, pruneOptions{dryRun: true, all: o.all, filter: imf}, out)
	}
	if !o.force {
		// As docker's: the answer is read from stdin, a terminal or not.
		yes, err := confirm(ctx, cmd.InOrStdin(), out, systemPruneWarning(o))
		if err != nil || !yes {
			return err
		}
	}
	// Each part logs its prune event, as docker's system prune's container and image prunes do.
	res, err := pruneStoppedContainers(ctx, g, cf)
	if len(res.deleted) > 0 {
		fmt.Fprintf(out, "Deleted Containers:\n%s\n\n", strings.Join(res.deleted, "\n"))
	}
	if err != nil {
		return err
	}
	pruneEvent(g, events.Container, res.freed)
	lines, freed, err := pruneImages(ctx, g, o.all, imf)
	if len(lines) > 0 {
		fmt.Fprintf(out, "Deleted Images:\n%s\n\n", strings.Join(lines, "\n"))
	}
	if err != nil {
		// No total of a prune that failed half-way, as prune's.
		return err
	}
	pruneEvent(g, events.Image, freed)
	fmt.Fprintf(out, "Total reclaimed space: %s\n", dockerHumanSize(res.freed+freed))
	return nil
}

// pruneStoppedContainers is container prune's removal, without its report.
func pruneStoppedContainers(ctx context.Context, g *globals, f *containerPruneFilter) (containerPruneResult, error) {
	store, err := g.openContainers()
	if err != nil {
		return containerPruneResult{}, err
	}
	list, err := store.List()
	if err != nil {
		return containerPruneResult{}, err
	}
	list, _ = store.RemoveOrphans(list)
	res, err := pruneContainers(ctx, prunableContainers(list, f, containerLabels),
		func(c *runner.Container) error { return store.RemoveOwn(ctx, c, false) },
		func(c *runner.Container) int64 { return prunedSize(g, c) })
	_ = store.SweepLeftovers()
	return res, err
}

// dryRunContainers lists what pruneStoppedContainers would remove.
func dryRunContainers(g *globals, f *containerPruneFilter, out io.Writer) error {
	store, err := g.openContainers()
	if err != nil {
		return err
	}
	list, err := store.List()
	if err != nil {
		return err
	}
	for _, c := range prunableContainers(list, f, containerLabels) {
		fmt.Fprintf(out, "Would delete container: %s\n", c.ID)
	}
	return nil
}

// pruneImages untags the unused images (with all), then collects what no image or container
// needs, as prune does, and returns docker's "Deleted Images" lines: "untagged: NAME" for
// each name removed, "deleted: ID" for each image whose config went, dangling ones included.
func pruneImages(ctx context.Context, g *globals, all bool, f imagePruneFilter) (lines []string, freed int64, err error) {
	store, err := g.openStore()
	if err != nil {
		return nil, 0, err
	}
	// The dangling images before the collection: those it removes are deleted images too.
	dangling, err := store.Unreached()
	if err != nil {
		return nil, 0, err
	}
	var untagged []cache.ImageInfo
	if all {
		if untagged, err = untagUnused(ctx, g, f); err != nil {
			return nil, 0, err
		}
	}
	gb, err := pruneGarbage(ctx, g, false, f)
	gb.Freed += archive.PruneStaging(g.root)
	removed := map[v1.Hash]bool{}
	for _, b := range gb.Blobs {
		removed[b.Digest] = true
	}
	said := map[v1.Hash]bool{}
	deleted := func(info cache.ImageInfo) {
		if removed[info.ID] && !said[info.ID] {
			said[info.ID] = true
			lines = append(lines, "deleted: "+info.ID.String())
			imageEvent(g, "delete", info.ID.String(), info.ID.String())
		}
	}
	for _, info := range untagged {
		lines = append(lines, "untagged: "+familiarRef(info.Ref))
		imageEvent(g, "untag", info.ID.String(), info.ID.String())
		deleted(info)
	}
	for _, info := range dangling {
		deleted(info)
	}
	return lines, gb.Freed, err
}
