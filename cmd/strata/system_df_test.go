package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestReclaimable: system df's RECLAIMABLE is docker's (cli/command/formatter/disk_usage.go):
// units.HumanSize, four significant digits ("887.2kB", where strata printed "887kB"), and no
// percentage when the total is 0 ("0B", where strata printed "0B (0%)").
func TestReclaimable(t *testing.T) {
	tests := []struct {
		n, of int64
		want  string
	}{
		{0, 0, "0B"},
		{500, 1000, "500B (50%)"},
		{1000, 1000, "1kB (100%)"},
		{1, 3, "1B (33%)"},
		{887230, 887230, "887.2kB (100%)"},
	}
	for _, tt := range tests {
		if got := reclaimable(tt.n, tt.of); got != tt.want {
			t.Errorf("reclaimable(%d, %d) = %q, want %q", tt.n, tt.of, got, tt.want)
		}
	}
}

// TestPrintDiskUsage checks docker's layout: the summary table alone, and with -v a section
// per kind listing every item.
func TestPrintDiskUsage(t *testing.T) {
	u := usage{
		Summary: []usageRow{{Type: "Images", Total: 2, Active: 1, Size: 3000, Reclaimable: 1000}, {Type: "Containers", Total: 1, Size: 10, Reclaimable: 10}},
		Images: []imageUsage{
			{Ref: "docker.io/library/alpine:3.20", ID: "sha256:0123456789abcdef", Size: 2000, Shared: 1000, Unique: 1000, Containers: 1},
			{Ref: "example.com/app:v1", ID: "sha256:fedcba9876543210", Size: 2000, Shared: 1000, Unique: 1000},
		},
		Layers:     []layerUsage{{DiffID: "sha256:aaaaaaaaaaaaaaaa", Compressed: 400, Unpacked: 1000, Images: 2}},
		Containers: []containerUsage{{ID: "c0ffee0000000000", Name: "web", Image: "alpine", Status: "exited", Size: 10}},
	}
	var short bytes.Buffer
	if err := printDiskUsage(&short, u, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(short.String(), "\n")
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" {
		t.Errorf("header = %q, want docker's", lines[0])
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "Images 2 1 3kB 1kB (33%)" {
		t.Errorf("images row = %q", lines[1])
	}
	if strings.Contains(short.String(), "space usage") {
		t.Errorf("without -v the details show:\n%s", short.String())
	}

	var long bytes.Buffer
	if err := printDiskUsage(&long, u, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Images space usage", "alpine", "3.20", "0123456789ab", "app", "Layers space usage", "aaaaaaaaaaaa", "400B", "Containers space usage", "c0ffee000000", "web"} {
		if !strings.Contains(long.String(), want) {
			t.Errorf("system df -v lacks %q:\n%s", want, long.String())
		}
	}
}

// TestContainerSize: a container's size is its upper dir and its anonymous volumes, which
// go with it; missing dirs count nothing.
func TestContainerSize(t *testing.T) {
	dir := t.TempDir()
	c := &runner.Container{ID: strings.Repeat("c", 64), Dir: dir}
	if n, err := containerSize(&globals{}, c); err != nil || n != 0 {
		t.Fatalf("containerSize(empty dir) = %d, %v; want 0", n, err)
	}
	for _, f := range []string{"upper/a", "volumes/0/b", "volumes/1/sub/c"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 64<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// As docker's SizeRw: the files' sizes, directories none, a hard link once.
	if err := os.Link(filepath.Join(dir, "upper/a"), filepath.Join(dir, "upper/a2")); err != nil {
		t.Fatal(err)
	}
	got, err := containerSize(&globals{}, c)
	if want := int64(3 * 64 << 10); err != nil || got != want {
		t.Errorf("containerSize = %d, %v; want %d (the files of upper and volumes)", got, err, want)
	}
}
