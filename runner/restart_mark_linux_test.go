package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteRestartMark: the restart mark is written whole, in place of what was there (an
// empty mark a killed restart left, a symlink, which is not followed), and leaves no file of
// its own beside it: created empty and written after, a restart killed between the two left
// an empty mark, which reads as a live restart's and kept a --rm container for ever.
func TestWriteRestartMark(t *testing.T) {
	start, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d %d\n", os.Getpid(), start)
	host := filepath.Join(t.TempDir(), "host")
	if err := os.WriteFile(host, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(mark string) error
	}{
		{"none", func(string) error { return nil }},
		{"empty", func(mark string) error { return os.WriteFile(mark, nil, 0o600) }},
		{"symlink", func(mark string) error { return os.Symlink(host, mark) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mark := filepath.Join(dir, restartingFile)
			if err := tc.setup(mark); err != nil {
				t.Fatal(err)
			}
			if err := writeRestartMark(mark, os.Getpid()); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(mark); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("mark: %v, %v; want a regular file", fi, err)
			}
			if b, err := os.ReadFile(mark); err != nil || string(b) != want {
				t.Errorf("mark holds %q, %v; want %q", b, err, want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("the dir holds %d entries, want the mark alone", len(ents))
			}
			if b, _ := os.ReadFile(host); string(b) != "keep" {
				t.Errorf("the file behind a symlink mark holds %q, want it untouched", b)
			}
		})
	}
}
