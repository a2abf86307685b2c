package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/archive"
	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/events"
	"github.com/strata-run/strata/registry"
)

type pruneOptions struct {
	dryRun  bool
	all     bool
	filters []string
	// filter, from --filter until= and label=, bounds what prune removes: the dangling images
	// (and with -a the unused ones) created before until, with the labels asked for.
	filter imagePruneFilter
}

// Docker's image prune questions (docker/cli cli/command/image/prune.go).
const (
	imagePruneAllWarning      = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
	imagePruneDanglingWarning = "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
)

// newPruneCmd is strata's prune, which never asks: its users run it as a cache's clean-up.
func newPruneCmd(g *globals) *cobra.Command {
	return newPruneCmdAsking(g, false)
}

// newImagePruneCmd is docker's `image prune`: prune, but it asks before it removes anything
// unless -f (or --dry-run), as docker's does, since a docker user who types `image prune -a`
// expects the question before every unused image goes.
func newImagePruneCmd(g *globals) *cobra.Command {
	return newPruneCmdAsking(g, true)
}

func newPruneCmdAsking(g *globals, ask bool) *cobra.Command {
	var o pruneOptions
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused layers, unreferenced blobs and stale partial downloads (and with -a, images no container uses)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := pruneFilter(o.filters, time.Now())
			if err != nil {
				return err
			}
			o.filter = f
			if ask && !force && !o.dryRun {
				q := imagePruneDanglingWarning
				if o.all {
					q = imagePruneAllWarning
				}
				yes, err := confirm(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), q)
				if err != nil || !yes {
					return err
				}
			}
			return runPrune(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be removed, remove nothing")
	cmd.Flags().BoolVarP(&o.all, "all", "a", false, "also remove every image no container uses")
	stringArrayVar(cmd.Flags(), &o.filters, "filter", "", nil, "until=TIME (a duration such as 24h, or a time): remove only the dangling (with -a, unused) images created before it; label=KEY[=VALUE] (label!= for the others): only those with that label; as docker's image prune (repeatable)")
	if ask {
		cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	} else {
		// docker's prunes ask for confirmation unless -f; strata's own never asks, and takes
		// -f so that scripts written for docker's run as they are.
		cmd.Flags().BoolVarP(&force, "force", "f", false, "accepted for docker's scripts: strata prune does not ask for confirmation")
	}
	return cmd
}

func runPrune(ctx context.Context, g *globals, o pruneOptions, out io.Writer) error {
	verb := "Deleted"
	if o.dryRun {
		verb = "Would delete"
	}
	if !o.dryRun {
		// The --rm containers of killed runs go first: their layers and images are garbage
		// too. Best effort, as rm's sweep.
		if containers, err := g.openContainers(); err == nil {
			_ = containers.SweepLeftovers()
		}
	}
	var unused []cache.ImageInfo
	if o.all && o.dryRun {
		var err error
		if unused, err = unusedImages(g, o.filter); err != nil {
			return err
		}
		if len(unused) > 0 {
			return printGarbage(out, verb, unused, func() (garbage, error) { return garbageWithout(ctx, g, unused, o.filter) })
		}
	}
	if o.all && !o.dryRun {
		var err error
		if unused, err = untagUnused(ctx, g, o.filter); err != nil {
			return err
		}
	}
	var dangling []cache.ImageInfo
	if !o.dryRun {
		dangling = danglingBefore(g) // for the delete events
	}
	return printGarbage(out, verb, unused, func() (garbage, error) {
		gb, err := pruneGarbage(ctx, g, o.dryRun, o.filter)
		if !o.dryRun {
			// Staging dirs of loads that were killed: only the next load removed them.
			gb.Freed += archive.PruneStaging(g.root)
			imageRemovalEvents(g, unused, gb)
			imageRemovalEvents(g, dangling, gb)
			if err == nil {
				pruneEvent(g, events.Image, gb.Freed) // as docker's image prune
			}
		}
		return gb, err
	})
}

// printGarbage runs collect and prints every image, blob and layer it frees and the total, as
// docker's "Total reclaimed space" line does; the total only when collect succeeded. Bytes freed that no item accounts for are the
// partial downloads and leftovers of interrupted pulls.
func printGarbage(out io.Writer, verb string, untagged []cache.ImageInfo, collect func() (garbage, error)) error {
	untag := "Untagged"
	if verb != "Deleted" {
		untag = "Would untag"
	}
	for _, info := range untagged {
		fmt.Fprintf(out, "%s: %s\n", untag, familiarRef(info.Ref))
	}
	gb, err := collect()
	var listed int64
	for _, b := range gb.Blobs {
		fmt.Fprintf(out, "%s blob: %s (%s)\n", verb, b.Digest, humanSize(b.Size))
		listed += b.Size
	}
	for _, l := range gb.Layers {
		what := "layer: " + l.DiffID.String()
		if l.DiffID.Hex == "" {
			what = "leftover: " + l.Dir
		}
		fmt.Fprintf(out, "%s %s (%s)\n", verb, what, humanSize(l.Size))
		listed += l.Size
	}
	if rest := gb.Freed - listed; rest > 0 {
		fmt.Fprintf(out, "%s partial downloads and temp files (%s)\n", verb, humanSize(rest))
	}
	if err != nil {
		// No total of a collection that failed: "Total reclaimed space: 0B" above the error
		// (a corrupt index.json) read as a prune that worked and found nothing.
		return err
	}
	if verb == "Deleted" {
		fmt.Fprintf(out, "Total reclaimed space: %s\n", dockerHumanSize(gb.Freed))
	} else {
		fmt.Fprintf(out, "Total reclaimable space: %s\n", dockerHumanSize(gb.Freed))
	}
	return err
}

// unusedImages are the named images no container was created from that f removes: with
// until set, only those created before it (one whose config gives no time is kept, as docker
// keeps it); with labels, only those whose labels pass.
func unusedImages(g *globals, f imagePruneFilter) ([]cache.ImageInfo, error) {
	store, err := g.openStore()
	if err != nil {
		return nil, err
	}
	containers, err := g.openContainers()
	if err != nil {
		return nil, err
	}
	list, err := containers.List()
	if err != nil {
		return nil, err
	}
	infos, err := store.Infos()
	if err != nil {
		return nil, err
	}
	var unused []cache.ImageInfo
	for _, info := range infos {
		if !f.removes(info) {
			continue
		}
		if containerUsing(list, info.ID.String()) == "" {
			unused = append(unused, info)
		}
	}
	return unused, nil
}

// untagUnused untags the images no container uses, as prune -a does, and returns them. The
// store's GC lock is held from the check to the untags, as rmi holds it: a container created
// meanwhile is either seen or finds its image gone.
func untagUnused(ctx context.Context, g *globals, f imagePruneFilter) (_ []cache.ImageInfo, err error) {
	store, err := g.openStore()
	if err != nil {
		return nil, err
	}
	release, err := holdCollection(ctx, store, os.Stderr)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, release()) }()
	unused, err := unusedImages(g, f)
	if err != nil {
		return nil, err
	}
	for _, info := range unused {
		if err := store.Untag(info.Ref); err != nil && !errors.Is(err, cache.ErrNotFound) {
			return nil, err
		}
	}
	return unused, nil
}

// garbageWithout is what `prune -a` would free, computed without untagging anything: what
// is garbage now, plus the blobs and layer dirs of the unused images that no kept image
// shares.
func garbageWithout(ctx context.Context, g *globals, unused []cache.ImageInfo, f imagePruneFilter) (garbage, error) {
	gb, err := pruneGarbage(ctx, g, true, f)
	if err != nil {
		return gb, err
	}
	store, err := g.openStore()
	if err != nil {
		return gb, err
	}
	snap, err := g.openSnapshotter()
	if err != nil {
		return gb, err
	}
	infos, err := store.Infos()
	if err != nil {
		return gb, err
	}
	containers, err := g.openContainers()
	if err != nil {
		return gb, err
	}
	list, err := containers.List()
	if err != nil {
		return gb, err
	}
	// The dangling images containers use stay, as the collection keeps them, and so do the
	// layer dirs containers are made of.
	dangling, err := danglingImages(store, list)
	if err != nil {
		return gb, err
	}
	if !f.none() {
		// The dangling images --filter keeps stay too, and what they share.
		kept, err := keptDangling(store, f)
		if err != nil {
			return gb, err
		}
		dangling = append(dangling, kept...)
	}
	drop := map[string]bool{}
	for _, u := range unused {
		drop[u.Ref] = true
	}
	keepBlobs, keepLayers := map[v1.Hash]bool{}, map[v1.Hash]bool{}
	for _, c := range list {
		for d := range containerLayers(g, c) {
			keepLayers[d] = true
		}
	}
	for _, info := range append(infos, dangling...) {
		if info.Ref != "" && drop[info.Ref] {
			continue
		}
		keepBlobs[info.Manifest.Digest], keepBlobs[info.ID] = true, true
		for _, l := range info.Layers {
			keepBlobs[l.Digest] = true
		}
		for _, b := range info.Blobs { // every platform's, for a ref naming an index
			keepBlobs[b.Digest] = true
		}
		for _, d := range info.Config.RootFS.DiffIDs {
			keepLayers[d] = true
		}
	}
	already := map[v1.Hash]bool{}
	for _, b := range gb.Blobs {
		already[b.Digest] = true
	}
	for _, l := range gb.Layers {
		already[l.DiffID] = true
	}
	add := func(d v1.Descriptor) {
		// Not there, nothing to free: the config of a damaged image, say.
		if keepBlobs[d.Digest] || already[d.Digest] || !store.HasBlob(d.Digest) {
			return
		}
		already[d.Digest] = true
		gb.Blobs = append(gb.Blobs, d)
		gb.Freed += d.Size
	}
	layers, err := snap.List()
	if err != nil {
		return gb, err
	}
	have := map[v1.Hash]int{}
	for i, l := range layers {
		have[l.DiffID] = i
	}
	for _, u := range unused {
		if len(u.Blobs) > 0 { // what the ref reaches, every platform's for an index
			for _, b := range u.Blobs {
				add(b)
			}
		} else {
			add(u.Manifest)
			add(v1.Descriptor{Digest: u.ID, Size: u.Size - layersSize(u.Layers)})
			for _, l := range u.Layers {
				add(l)
			}
		}
		for _, d := range u.Config.RootFS.DiffIDs {
			i, ok := have[d]
			if keepLayers[d] || already[d] || !ok {
				continue
			}
			already[d] = true
			gb.Layers = append(gb.Layers, layers[i])
			gb.Freed += layers[i].Size
		}
	}
	return gb, nil
}

// layersSize sums distinct layer sizes, as cache.ImageInfo.Size counts them.
func layersSize(ls []v1.Descriptor) int64 {
	seen := map[v1.Hash]bool{}
	var n int64
	for _, l := range ls {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			n += l.Size
		}
	}
	return n
}

// pruneFilter reads prune's --filter values as docker's image prune does: until= a time, or
// a duration before now, bounds the images prune removes (dangling ones, and with -a unused
// ones) to those created before it; label=KEY[=VALUE] and label!=KEY[=VALUE] to those whose
// config's labels pass, as images --filter reads them.
func pruneFilter(filters []string, now time.Time) (imagePruneFilter, error) {
	var f imagePruneFilter
	for _, a := range filters {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return f, fmt.Errorf("invalid --filter %s: want KEY=VALUE", quoteValue(a))
		case k == "label" || k == "label!":
			c, err := parseLabelCheck(a, k, v)
			if err != nil {
				return f, err
			}
			f.labels = append(f.labels, c)
			continue
		case k != "until":
			return f, fmt.Errorf("invalid --filter %s: unknown key %s (want until, label or label!)", quoteValue(a), quoteValue(k))
		case !f.until.IsZero():
			return f, fmt.Errorf("invalid --filter %s: until given twice", quoteValue(a))
		}
		t, err := parseLogTime("--filter until", v, now)
		if err != nil {
			return f, err
		}
		if t.IsZero() {
			return f, fmt.Errorf("invalid --filter %s: want a time or a duration", quoteValue(a))
		}
		f.until = t
	}
	return f, nil
}

// familiarRef is how docker prints a ref: "alpine:latest".
func familiarRef(s string) string {
	if ref, err := registry.ParseReference(s); err == nil {
		return ref.Familiar()
	}
	return escapeUnprintable(s) // not a reference: a damaged store's, its escapes shown
}
