// Package bench holds the side-by-side benchmarks: run.sh and share.sh with their bash
// library, and the Go programs they build (imagegen, report, plot). This test keeps the
// scripts parseable and pins the record format the report reads.
package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestScriptsParse(t *testing.T) {
	scripts, err := filepath.Glob("*.sh")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := filepath.Glob("lib/*.sh")
	if err != nil {
		t.Fatal(err)
	}
	scripts = append(scripts, lib...)
	if len(scripts) < 3 {
		t.Fatalf("found %d scripts (%v), want run.sh, share.sh and lib/*.sh", len(scripts), scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command("bash", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s = %v\n%s", s, err, out)
		}
	}
}

// TestRecordFormat checks that record and note write the tab-separated lines the report
// parses, with tabs and newlines in a note's text flattened so a line stays one record.
func TestRecordFormat(t *testing.T) {
	dir := t.TempDir()
	script := `set -euo pipefail
source lib/common.sh
BENCH_RESULTS=` + dir + `
record pull tmpfs/debian strata time s 1.5
note start alpine crun failed "$(printf 'line one\nline\ttwo')" 2>/dev/null
timed /dev/null sleep 0.01
echo "$ELAPSED"`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("bash = %v\n%s", err, out)
	}
	// Only the format: how long sleep took depends on the machine.
	if elapsed := strings.TrimSpace(string(out)); !regexp.MustCompile(`^[0-9]+\.[0-9]{6}$`).MatchString(elapsed) || elapsed == "0.000000" {
		t.Errorf("timed set ELAPSED = %q, want positive seconds with 6 decimals", elapsed)
	}
	tests := []struct {
		file string
		want string
	}{
		{"samples.tsv", "pull\ttmpfs/debian\tstrata\ttime\ts\t1.5\n"},
		{"notes.tsv", "start\talpine\tcrun\tfailed\tline one line two\n"},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%s = %q, want %q", tt.file, b, tt.want)
		}
	}
}

// TestPullAdaptersRunInChildShell runs the strata pull adapter the way pull_once does, in a
// child bash that only has what run.sh exports, against a stub strata that prints its
// arguments: a setting the adapters read but run.sh does not export fails here.
func TestPullAdaptersRunInChildShell(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "strata")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(dir, "images.json")
	if err := os.WriteFile(images, []byte(`[{"name":"alpine","ref":"127.0.0.1:5000/bench/alpine:3.20.3"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skipf("skipping: jq not installed (bench/run.sh installs it): %v", err)
	}
	script := `set -euo pipefail
for f in lib/*.sh; do source "$f"; done
STRATA=` + stub + ` IMAGES=` + images + ` REGISTRY=127.0.0.1:5000 BENCH_WORK=` + dir + ` INSECURE=1
export STRATA REGISTRY IMAGES BENCH_WORK BENCH_ID INSECURE
export -f $(declare -F | awk '{ print $3 }')
bash -c '"$@"' _ strata_pull /store alpine`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("strata_pull in a child shell = %v\n%s", err, out)
	}
	want := "--root /store pull --insecure 127.0.0.1:5000/bench/alpine:3.20.3"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("stub strata got %q, want %q", got, want)
	}
}
