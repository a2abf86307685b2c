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
