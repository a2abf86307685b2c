package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestHelperFileReplacesOthers: writing this build's helper removes other builds' helpers and
// interrupted writes older than staleHelperAge, but not recent ones, this build's own write in
// progress or unrelated files.
func TestHelperFileReplacesOthers(t *testing.T) {
	dir := t.TempDir()
	program := []byte("#!/bin/true\n")
	sum := sha256.Sum256(program)
	digest := hex.EncodeToString(sum[:])
	mine := "strata-helper-" + digest[:32]
	old := time.Now().Add(-2 * staleHelperAge)
	for name, mtime := range map[string]time.Time{
		"strata-helper-00000000000000000000000000000000":        old,        // an older build's
		".strata-helper-11111111111111111111111111111111.tmp-1": old,        // a crashed write
		"strata-helper-22222222222222222222222222222222":        time.Now(), // a build used today
		"." + mine + ".tmp-2":                                   old,        // a concurrent write of this build
		"notes.txt":                                             old,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	h := &helperBinary{program: program, digest: digest, dir: dir}
	path, err := h.file()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != mine {
		t.Errorf("helper written as %s, want %s", path, mine)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"." + mine + ".tmp-2", "notes.txt", mine, "strata-helper-22222222222222222222222222222222"}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("dir holds %q, want %q", names, want)
	}
}
