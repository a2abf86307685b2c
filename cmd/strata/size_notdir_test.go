package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestContainerSizeEntryNotDir: a container entry that is a symlink to a dir elsewhere (a
// hand edit) is measured as nothing: ps -s, inspect -s and system df measured the upper and
// volumes dirs of the dir it names, walking a tree outside the store.
func TestContainerSizeEntryNotDir(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "upper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "upper", "big"), make([]byte, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("d", 64)
	if err := os.Symlink(host, filepath.Join(store.Dir(), id)); err != nil {
		t.Fatal(err)
	}
	c, err := store.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	g := &globals{root: root}
	if n, err := containerSize(g, c); n != 0 || err != nil {
		t.Errorf("containerSize of an entry that is a symlink = %d, %v; want 0, nil", n, err)
	}
}
