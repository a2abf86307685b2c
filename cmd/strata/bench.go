package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/internal/sharebench"
	"github.com/strata-run/strata/registry"
	"github.com/strata-run/strata/snapshotter"
)

// newBenchCmd groups the measurements a user can run with the binary alone; make bench
// (bench/run.sh) compares strata with its peers.
func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure strata on this machine",
		Args:  noArgs,
	}
	cmd.AddCommand(newBenchShareCmd(g))
	return cmd
}

type benchShareOptions struct {
	registry    string
	format      string
	platform    string
	concurrency int
	keep        bool
}

func newBenchShareCmd(g *globals) *cobra.Command {
	var o benchShareOptions
	cmd := &cobra.Command{
		Use:   "share [OPTIONS] IMAGE...",
		Short: "Pull images one after another into a fresh root and show how much their layers share",
		Long: `Pull the images in the order given into one fresh, temporary root and print, per image:
the pull time, the layer bytes downloaded, how many of its layers were new and how many the
root already had, how much the root grew on disk, and the ideal growth (the new layers only:
their blobs plus their files rounded up to the file system's block). The totals end with the
ratio of actual to ideal growth. The temporary root (in $TMPDIR, which picks the file system)
is removed at the end unless --keep; with --root the images go to that root, which is kept.`,
		Example: `  strata bench share --registry http://127.0.0.1:5000 bench/app:0 bench/app:1 bench/app:2
  strata bench share --format json docker.io/library/python:3.12 docker.io/library/python:3.13`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := ""
			if f := cmd.Flag("root"); f != nil && f.Changed {
				root = g.root
			}
			return runBenchShare(cmd.Context(), g, o, root, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.registry, "registry", "", "registry URL (http://host:port for plain HTTP) that names IMAGEs without a registry of their own")
	f.StringVar(&o.format, "format", "", "json: the whole report as one JSON document")
	f.StringVar(&o.platform, "platform", "", "os/arch[/variant] to pull (default: this host's)")
	f.IntVar(&o.concurrency, "max-concurrent-downloads", 3, "layers downloaded at once")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary root and print where it is")
	return cmd
}

// runBenchShare measures the pulls into root, or into a temporary root when root is "".
func runBenchShare(ctx context.Context, g *globals, o benchShareOptions, root string, images []string, out, errOut io.Writer) (err error) {
	if o.format != "" && o.format != "json" {
		return fmt.Errorf("invalid --format %s: only json is supported", quoteValue(o.format))
	}
	if o.concurrency < 1 {
		return fmt.Errorf("--max-concurrent-downloads must be at least 1, not %d", o.concurrency)
	}
	reg := sharebench.Registry{}
	if o.registry != "" {
		if reg, err = sharebench.ParseRegistry(o.registry); err != nil {
			return err
		}
	}
	refs := make([]string, len(images))
	for i, img := range images {
		refs[i] = reg.Qualify(img)
	}
	opts := sharebench.Options{
		Registry:    g.registryOptions(),
		Snapshotter: snapshotter.Options{Driver: snapshotter.Driver(g.storageDriver)},
		Concurrency: o.concurrency,
	}
	if reg.Insecure {
		opts.Registry.InsecureRegistries = append(opts.Registry.InsecureRegistries, reg.Host)
	}
	if o.platform != "" {
		if opts.Registry.Platform, err = registry.ParsePlatform(o.platform); err != nil {
			return err
		}
	}
	if root == "" {
		if root, err = os.MkdirTemp("", "strata-bench-share-"); err != nil {
			return fmt.Errorf("creating a temporary root: %w", err)
		}
		defer func() {
			if o.keep {
				fmt.Fprintf(errOut, "kept the root %s (strata --root %s images)\n", root, root)
				return
			}
			if rerr := os.RemoveAll(root); rerr != nil {
				err = errors.Join(err, fmt.Errorf("removing the temporary root: %w", rerr))
			}
		}()
	}
	opts.Root = root
	if o.format == "" {
		opts.Progress = func(r sharebench.Row) {
			fmt.Fprintf(errOut, "pulled %s in %.2fs\n", r.Ref, r.Seconds)
		}
	}
	rep, err := sharebench.Run(ctx, refs, opts)
	if err != nil {
		// What was measured before the failure is still worth seeing.
		if o.format == "" && rep != nil && len(rep.Images) > 0 {
			err = errors.Join(err, printShare(out, rep))
		}
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printShare(out, rep)
}

// printShare writes the report as a table, one row per image and one of totals.
func printShare(w io.Writer, rep *sharebench.Report) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tIMAGE\tTIME\tDOWNLOADED\tLAYERS\tNEW\tSHARED\tGROWTH\tIDEAL\tGROWTH/IDEAL")
	for i, r := range rep.Images {
		fmt.Fprintf(tw, "%d\t%s\t%.2fs\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", i+1, r.Ref, r.Seconds, humanSize(r.Downloaded),
			r.Layers, r.New, r.Shared, humanSize(r.Growth), humanSize(r.Ideal), ratio(r.Growth, r.Ideal))
	}
	t := rep.Totals
	fmt.Fprintf(tw, "\tTOTAL\t%.2fs\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", t.Seconds, humanSize(t.Downloaded),
		t.Layers, t.New, t.Shared, humanSize(t.Growth), humanSize(t.Ideal), ratio(t.Growth, t.Ideal))
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nideal: the new layers' blobs plus their files rounded up to %d-byte blocks; driver %s\n",
		rep.BlockSize, rep.Driver)
	return err
}

// ratio prints actual/ideal growth with two decimals, or "-" when nothing was new.
func ratio(actual, ideal int64) string {
	if ideal <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(actual)/float64(ideal))
}
