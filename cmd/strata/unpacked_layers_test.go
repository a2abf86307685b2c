package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testimages"
)

// TestUnpackedLayersFailsClosed: the commands that check the layers unpacked here (load, pull
// --no-unpack, serve --pull-through, save, push) took any failure to look for the layer store
// for "there is none", and checked nothing: a snapshots dir that could not be looked at (a
// symlink loop here; a root it may not search, an I/O error) let a load store any blob as a
// layer unpacked there. Only a missing layer store is none; anything else fails, in one line.
func TestUnpackedLayersFailsClosed(t *testing.T) {
	root := t.TempDir()
	g := &globals{root: root}
	if snap, err := g.unpackedLayers(); snap != nil || err != nil {
		t.Fatalf("unpackedLayers without a layer store = %v, %v; want none, no error", snap, err)
	}
	if err := os.Symlink("snapshots", filepath.Join(root, "snapshots")); err != nil {
		t.Fatal(err)
	}
	if snap, err := g.unpackedLayers(); err == nil {
		t.Fatalf("unpackedLayers with a snapshots dir it cannot look at = %v, nil; want an error", snap)
	}

	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	if err := testimages.WriteLayout(td, layout); err != nil {
		t.Fatal(err)
	}
	_, err = strata(t, root, nil, "load", "-q", "-i", layout)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "layer store") {
		t.Errorf("load into a root whose layer store cannot be looked at = %v, want one line naming the layer store", err)
	}
	if out, _ := strata(t, root, nil, "images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("the refused load stored images: %q", out)
	}
}
