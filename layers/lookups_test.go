package layers

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// applyCounting applies the tar layer into dir as Apply does and returns the lookups its root
// made: names resolved from the layer dir, and handles' names read.
func applyCounting(t *testing.T, dir string, layer []byte) (int, error) {
	t.Helper()
	opts := Options{IgnoreOwners: os.Geteuid() != 0}
	x, err := newExtractor(context.Background(), dir, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer x.close()
	err = applyTar(context.Background(), x, bytes.NewReader(layer), &opts)
	return x.root.lookups, err
}

// TestApplyLookupsPerEntry bounds the path walks per entry of the layers of
// BenchmarkApplyManyEntries: a directory's entries come right after it and are made through its
// own handle, and a hard link to a file of its own directory through the directory's handle.
// Each directory entry cost four walks (its parent resolved again by the next entry, with two
// readlinks of the handle, and once more at the end for its mode), a tree of packages seven a
// directory, and each hard link one; an ext4 walk is a few microseconds, an open file as many
// again.
func TestApplyLookupsPerEntry(t *testing.T) {
	const n = 500
	for _, tc := range []struct {
		shape string
		// max is the walks allowed per directory entry (the other entries get none), plus
		// a few for the whole layer.
		perDir float64
	}{
		{"files", 1},
		{"tree", 1.5}, // top directories are walked again for each package after the first 100
		{"dirs", 1},   // only the final mode: each parent is the entry before
		{"hardlinks", 1},
		{"symlinks", 1},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			var entries []ent
			for _, l := range manyEntryLayers {
				if l.name == tc.shape {
					entries = l.entries(n)
				}
			}
			dirs := 0
			for _, e := range entries {
				if e.hdr.Typeflag == dir("", 0).hdr.Typeflag {
					dirs++
				}
			}
			got, err := applyCounting(t, t.TempDir(), tarOf(t, entries...))
			if err != nil {
				t.Fatal(err)
			}
			if max := int(tc.perDir*float64(dirs)) + 10; got > max {
				t.Errorf("%d entries (%d directories) took %d lookups, want at most %d", len(entries), dirs, got, max)
			}
		})
	}
}

// TestApplyChainOfDirEntriesStopsAtPathMax applies directory entries one inside the other, each
// made through the handle of the one before, below a symlink hop to a deep chain: the
// directories that take entries must still have names shorter than maxParentLen as the kernel
// names them, the lengths now counted rather than read, and the first one too deep to take an
// entry is where Apply stops with ENAMETOOLONG.
func TestApplyChainOfDirEntriesStopsAtPathMax(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	chain := strings.TrimSuffix(strings.Repeat("d/", 1500), "/")
	entries := []ent{dir(chain+"/", 0o755), symlink("hop", chain)}
	name := "hop"
	for range 600 {
		name += "/e"
		entries = append(entries, dir(name+"/", 0o755))
	}
	_, err = applyCounting(t, root, tarOf(t, entries...))
	if !errors.Is(err, unix.ENAMETOOLONG) {
		t.Fatalf("Apply() = %v, want ENAMETOOLONG", err)
	}
	// The deepest e made: its parent could take it, it can take none.
	deepest := filepath.Join(root, chain)
	for {
		next := filepath.Join(deepest, "e")
		if _, err := os.Lstat(next); err != nil {
			break
		}
		deepest = next
	}
	if parent := len(filepath.Dir(deepest)); parent > maxParentLen {
		t.Errorf("%s… took entries with a name of %d bytes, past %d", deepest[:100], parent, maxParentLen)
	}
	if own := len(deepest); own <= maxParentLen {
		t.Errorf("the deepest directory made has a name of %d bytes, within %d: it should have taken the next entry", own, maxParentLen)
	}
}
