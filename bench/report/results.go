package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// key names one series of observations in samples.tsv.
type key struct {
	Measure, Case, Tool, Metric string
}

// Note is one line of notes.tsv: a tool that was skipped or failed, or how it was made to run.
type Note struct {
	Measure, Case, Tool, Kind, Text string
}

// Layer and Image mirror what bench/imagegen writes to images.json.
type Layer struct {
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
	Unpacked int64  `json:"unpacked"`
	Entries  int    `json:"entries"`
}

// Image is one benchmark image as pushed.
type Image struct {
	Name   string  `json:"name"`
	Ref    string  `json:"ref"`
	Layers []Layer `json:"layers"`
}

// Results is everything one run of bench/run.sh left in its results directory.
type Results struct {
	Meta     [][2]string
	Samples  map[key][]float64
	Notes    []Note
	Images   []Image
	SystemDF string // `strata system df` after the sharing measurement, verbatim
	Micro    string // `go test -bench` output of measurement 6, verbatim
}

// load reads a results directory. samples.tsv and meta.tsv are required; the rest is optional
// because a partial run (--only) still deserves a report.
func load(dir string) (*Results, error) {
	r := &Results{Samples: map[key][]float64{}}
	if err := readTSV(filepath.Join(dir, "meta.tsv"), 2, func(f []string) error {
		r.Meta = append(r.Meta, [2]string{f[0], f[1]})
		return nil
	}); err != nil {
		return nil, err
	}
	if err := readTSV(filepath.Join(dir, "samples.tsv"), 6, func(f []string) error {
		v, err := strconv.ParseFloat(f[5], 64)
		if err != nil {
			return fmt.Errorf("value %q: %w", f[5], err)
		}
		k := key{f[0], f[1], f[2], f[3]}
		r.Samples[k] = append(r.Samples[k], v)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := readTSV(filepath.Join(dir, "notes.tsv"), 5, func(f []string) error {
		r.Notes = append(r.Notes, Note{f[0], f[1], f[2], f[3], f[4]})
		return nil
	}); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "images.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading images.json: %w", err)
	default:
		if err := json.Unmarshal(b, &r.Images); err != nil {
			return nil, fmt.Errorf("decoding images.json: %w", err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "strata-system-df.txt")); err == nil {
		r.SystemDF = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "micro.txt")); err == nil {
		r.Micro = strings.TrimSpace(string(b))
	}
	return r, nil
}

// readTSV calls fn with the fields of every non-empty line; lines with fewer than n fields
// are an error naming the file and line, extra fields are joined into the last one.
func readTSV(path string, n int, fn func([]string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading results: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		fields := strings.SplitN(sc.Text(), "\t", n)
		if len(fields) < n {
			return fmt.Errorf("%s:%d: %d fields, want %d", filepath.Base(path), line, len(fields), n)
		}
		if err := fn(fields); err != nil {
			return fmt.Errorf("%s:%d: %w", filepath.Base(path), line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", filepath.Base(path), err)
	}
	return nil
}

// meta returns the value recorded for name, or "".
func (r *Results) meta(name string) string {
	for _, kv := range r.Meta {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// cases lists the cases recorded for a measurement, sorted: numerically when both are numbers
// (layer counts, image indexes), else as strings.
func (r *Results) cases(measure string) []string {
	seen := map[string]bool{}
	var out []string
	for k := range r.Samples {
		if k.Measure == measure && !seen[k.Case] {
			seen[k.Case] = true
			out = append(out, k.Case)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		ai, aerr := strconv.Atoi(a)
		bi, berr := strconv.Atoi(b)
		if aerr == nil && berr == nil {
			return ai - bi
		}
		return strings.Compare(a, b)
	})
	return out
}

// notesFor returns the notes of one measurement, case and tool.
func (r *Results) notesFor(measure, cas, tool string) []Note {
	var out []Note
	for _, n := range r.Notes {
		if n.Measure == measure && (n.Case == cas || cas == "") && n.Tool == tool {
			out = append(out, n)
		}
	}
	return out
}

// image returns the described image called name.
func (r *Results) image(name string) (Image, bool) {
	for _, img := range r.Images {
		if img.Name == name {
			return img, true
		}
	}
	return Image{}, false
}
