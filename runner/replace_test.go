package runner

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileReplaceLazily: a file written without fsync over an existing one (exchanged,
// then the old one removed) reads whole, leaves no temp file, and a directory in its place
// is refused and kept, as a rename would.
func TestWriteFileReplaceLazily(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "state.json")
	for _, content := range []string{"first", "second, longer", "third"} {
		if err := writeFileReplace(name, []byte(content), 0o600, false); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(name); err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("dir holds %v (%v); want state.json alone", entries, err)
	}

	busy := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(busy, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileReplace(busy, []byte("x"), 0o600, false); err == nil {
		t.Fatal("a directory in the file's place was replaced")
	}
	if fi, err := os.Stat(filepath.Join(busy, "inside")); err != nil || !fi.IsDir() {
		t.Errorf("the directory was not kept: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("dir holds %v; want state.json and busy", entries)
	}
}
