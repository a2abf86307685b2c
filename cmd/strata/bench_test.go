package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/sharebench"
)

// TestPrintShare checks the table of `bench share`: a row per image in order, the totals
// with the ratio, and "-" where nothing was new.
func TestPrintShare(t *testing.T) {
	rep := &sharebench.Report{
		Driver:    "overlay",
		BlockSize: 4096,
		Images: []sharebench.Row{
			{Ref: "127.0.0.1:5000/bench/app:0", Seconds: 1.234, Downloaded: 50_000_000, Layers: 2, New: 2, Growth: 180_000_000, Ideal: 178_000_000},
			{Ref: "127.0.0.1:5000/bench/app:0b", Seconds: 0.05, Layers: 2, Shared: 2, Growth: 8192},
		},
		Totals: sharebench.Totals{Seconds: 1.284, Downloaded: 50_000_000, Layers: 4, New: 2, Shared: 2, Growth: 180_008_192, Ideal: 178_000_000},
	}
	var out bytes.Buffer
	if err := printShare(&out, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	tests := []struct {
		line int
		want string
	}{
		{0, "# IMAGE TIME DOWNLOADED LAYERS NEW SHARED GROWTH IDEAL GROWTH/IDEAL"},
		{1, "1 127.0.0.1:5000/bench/app:0 1.23s 50MB 2 2 0 180MB 178MB 1.01"},
		{2, "2 127.0.0.1:5000/bench/app:0b 0.05s 0B 2 0 2 8.19kB 0B -"},
		{3, "TOTAL 1.28s 50MB 4 2 2 180MB 178MB 1.01"},
	}
	for _, tt := range tests {
		if tt.line >= len(lines) {
			t.Fatalf("bench share printed %d lines, want line %d:\n%s", len(lines), tt.line, out.String())
		}
		if got := strings.Join(strings.Fields(lines[tt.line]), " "); got != tt.want {
			t.Errorf("line %d = %q, want %q", tt.line, got, tt.want)
		}
	}
	if !strings.Contains(out.String(), "4096-byte blocks") {
		t.Errorf("bench share does not say the block size:\n%s", out.String())
	}
}
