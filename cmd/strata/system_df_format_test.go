package main

import (
	"strings"
	"testing"
)

// TestSystemDfTemplate: system df --format takes a Go template over the summary's rows with
// docker's placeholders and values (Type, TotalCount, Active, Size, Reclaimable, as docker
// prints them), and "table …" with docker's headers, so scripts written for docker's
// system df work: only json was taken, and `--format '{{.Type}} {{.Size}}'` failed. A
// format with no placeholder is still refused, and -v takes json only.
func TestSystemDfTemplate(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	table, err := strata(t, root, nil, "system", "df")
	if err != nil {
		t.Fatal(err)
	}
	images := strings.Fields(strings.Split(table, "\n")[1]) // Images 1 0 887kB 887kB (100%)
	got, err := strata(t, root, nil, "system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}")
	want := "Images|" + strings.Join(images[1:4], "|") + "|" + strings.Join(images[4:], " ") + "\n"
	if err != nil || !strings.HasPrefix(got, want) || !strings.Contains(got, "\nContainers|0|0|0B|0B\n") {
		t.Errorf("system df --format template = %q, %v; want it to start %q and have the Containers row", got, err, want)
	}
	got, err = strata(t, root, nil, "system", "df", "--format", `table {{.Type}}\t{{.TotalCount}}\t{{.Reclaimable}}`)
	// Columns as wide as docker's, whose "Local Volumes" row sets the first.
	if err != nil || !strings.HasPrefix(got, "TYPE            TOTAL     RECLAIMABLE\nImages ") || !strings.HasSuffix(got, "\nLocal Volumes   0         0B\n") {
		t.Errorf("system df --format 'table …' = %q, %v; want docker's headers", got, err)
	}
	for _, args := range [][]string{
		{"system", "df", "--format", "yaml"},
		{"system", "df", "-v", "--format", "{{.Type}}"},
	} {
		if out, err := strata(t, root, nil, args...); err == nil || !strings.Contains(err.Error(), "--format") {
			t.Errorf("%v = %q, %v; want a --format error", args, out, err)
		}
	}
}
