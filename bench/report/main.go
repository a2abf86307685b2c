// Command report turns the results directory of bench/run.sh (meta.tsv, samples.tsv,
// notes.tsv, images.json) into docs/benchmarks.md and the SVG plots next to it, so that every
// number in the docs comes from a run of the script and none is typed by hand.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	results := flag.String("results", "/var/tmp/strata-bench-results", "results directory written by bench/run.sh")
	docs := flag.String("docs", "docs", "directory receiving benchmarks.md and bench-*.svg")
	flag.Parse()
	if err := run(*results, *docs); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(results, docs string) error {
	r, err := load(results)
	if err != nil {
		return err
	}
	r.Notes = uniqueNotes(r.Notes)
	if err := os.MkdirAll(docs, 0o755); err != nil {
		return fmt.Errorf("creating docs dir: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(docs, "bench-*.svg"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("removing old plot: %w", err)
		}
	}
	d := &doc{r: r, dir: docs}
	d.header()
	d.pull()
	d.sharing()
	d.start()
	d.density()
	d.scaling()
	d.micro()
	d.notesSection()
	if err := errors.Join(d.errs...); err != nil {
		return err
	}
	out := filepath.Join(docs, "benchmarks.md")
	if err := os.WriteFile(out+".tmp", []byte(d.sb.String()), 0o644); err != nil {
		return fmt.Errorf("writing benchmarks.md: %w", err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return fmt.Errorf("writing benchmarks.md: %w", err)
	}
	return nil
}
