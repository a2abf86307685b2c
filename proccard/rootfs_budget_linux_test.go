package proccard

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/mount"
)

// TestRootFSSizeBudget: the sizes of a card's upper dir and layers are counted for at most
// sizeBudget, then given as what was counted, marked partial ("at least" in the text): a
// container that made millions of files in its upper dir made every inspect (even
// inspect --format '{{.State.Pid}}') and explain walk them all, for seconds to minutes.
func TestRootFSSizeBudget(t *testing.T) {
	dir := t.TempDir()
	upper, lower := filepath.Join(dir, "upper"), filepath.Join(dir, "lower")
	for i := range 20 {
		d := filepath.Join(upper, fmt.Sprint(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 100 {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprint(j)), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(lower, 0o755); err != nil {
		t.Fatal(err)
	}
	root := []mount.Mount{{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
		"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + filepath.Join(dir, "work"),
	}}}
	r := readRootFS(root, nil)
	if r.UpperSize != 2000 || r.UpperSizePartial || r.Lowers[0].DiskSizePartial {
		t.Errorf("readRootFS within its budget = upper %d partial %v, lower partial %v; want 2000, whole", r.UpperSize, r.UpperSizePartial, r.Lowers[0].DiskSizePartial)
	}

	defer func(b time.Duration) { sizeBudget = b }(sizeBudget)
	sizeBudget = time.Nanosecond
	start := time.Now()
	r = readRootFS(root, nil)
	if took := time.Since(start); took > time.Second {
		t.Errorf("readRootFS past its budget took %v", took)
	}
	if !r.UpperSizePartial || r.UpperSize >= 2000 || !r.Lowers[0].DiskSizePartial {
		t.Errorf("readRootFS past its budget = upper %d partial %v, lower partial %v; want partial, less than 2000", r.UpperSize, r.UpperSizePartial, r.Lowers[0].DiskSizePartial)
	}
	var out bytes.Buffer
	if err := Text(&out, &Card{RootFS: r}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(at least ") || !strings.Contains(out.String(), "at least 0B unpacked") {
		t.Errorf("Text of partial sizes = %q, want them said to be at least", out.String())
	}
	out.Reset()
	if err := Explain(&out, "c", &Card{RootFS: r}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(at least ") {
		t.Errorf("Explain of a partial upper size = %q, want it said to be at least", out.String())
	}
}
