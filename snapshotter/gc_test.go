package snapshotter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofrs/flock"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestListAndPrune(t *testing.T) {
	s := newPlain(t)
	keep := buildLayer(t, file("keep", strings.Repeat("k", 10000)))
	drop := buildLayer(t, file("drop", strings.Repeat("d", 10000)))
	unpack(t, s, keep)
	unpack(t, s, drop)
	// A crash leftover of a third layer, and one of a removal.
	stale := filepath.Join(s.Root(), tmpPrefix+hashOf("crashed").Hex+"-42")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}

	list, err := s.List()
	if err != nil {
		t.Fatalf("List = %v", err)
	}
	if len(list) != 2 {
		t.Fatalf("List = %d layers, want 2: %+v", len(list), list)
	}
	for _, l := range list {
		if l.Size <= 0 || l.Created.IsZero() || l.Dir != s.LayerDir(l.DiffID) {
			t.Errorf("List entry %+v: want a size, a creation time and its layer dir", l)
		}
	}

	inUse := map[v1.Hash]bool{keep.diffID: true}
	would, err := s.Prune(t.Context(), inUse, true)
	if err != nil {
		t.Fatalf("Prune(dry run) = %v", err)
	}
	if !s.Has(drop.diffID) {
		t.Errorf("Prune(dry run) removed a layer")
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("Prune(dry run) removed a temporary dir: %v", err)
	}

	removed, err := s.Prune(t.Context(), inUse, false)
	if err != nil {
		t.Fatalf("Prune = %v", err)
	}
	if len(removed) != len(would) {
		t.Errorf("Prune removed %d entries, dry run said %d", len(removed), len(would))
	}
	dirs := map[string]bool{}
	for _, l := range removed {
		dirs[l.Dir] = true
	}
	if !dirs[filepath.Join(s.Root(), drop.diffID.Hex)] || !dirs[stale] || len(dirs) != 2 {
		t.Errorf("Prune removed %v, want the unused layer and the stale temporary dir", dirs)
	}
	if s.Has(drop.diffID) {
		t.Errorf("Has(dropped layer) = true after Prune")
	}
	if !s.Has(keep.diffID) {
		t.Errorf("Prune removed a layer in keep")
	}
	wantAbsent(t, stale)
	if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
		t.Errorf("temporary dirs after Prune: %q", tmps)
	}
	locks, err := os.ReadDir(filepath.Join(s.Root(), locksDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range locks {
		if e.Name() != keep.diffID.Hex+".lock" {
			t.Errorf("lock file %s left after Prune, want only the kept layer's", e.Name())
		}
	}
	// The pruned layer can come back.
	unpack(t, s, drop)
}

func TestDirSizeHardLinksOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := DirSize(dir)
	if err != nil {
		t.Fatalf("DirSize = %v", err)
	}
	if before < 64<<10 {
		t.Errorf("DirSize = %d, want at least the 64 KiB file", before)
	}
	if err := os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "g")); err != nil {
		t.Fatal(err)
	}
	after, err := DirSize(dir)
	if err != nil {
		t.Fatalf("DirSize = %v", err)
	}
	if after != before {
		t.Errorf("DirSize with a hard link = %d, want %d (the inode counted once)", after, before)
	}
	if _, err := DirSize(filepath.Join(dir, "absent")); err == nil {
		t.Errorf("DirSize(absent) = nil error")
	}
}

// TestPruneSkipsBusy: a DiffID whose lock is held (an Unpack running in another process) is
// neither pruned as a layer nor as a temporary dir.
func TestPruneSkipsBusy(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	unpack(t, s, l)
	inProgress := filepath.Join(s.Root(), tmpPrefix+l.diffID.Hex+"-999")
	if err := os.Mkdir(inProgress, 0o755); err != nil {
		t.Fatal(err)
	}
	lock := flock.New(s.lockPath(l.diffID.Hex))
	if ok, err := lock.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer lock.Unlock()
	removed, err := s.Prune(t.Context(), nil, false)
	if err != nil {
		t.Fatalf("Prune = %v", err)
	}
	if len(removed) != 0 {
		t.Errorf("Prune removed %+v while its lock was held", removed)
	}
	if !s.Has(l.diffID) {
		t.Errorf("Prune removed a layer whose lock was held")
	}
	if _, err := os.Stat(inProgress); err != nil {
		t.Errorf("Prune removed an unpack in progress: %v", err)
	}
}

func TestRemoveNothingPrepared(t *testing.T) {
	s := newPlain(t)
	for _, cdir := range []string{filepath.Join(t.TempDir(), "absent"), t.TempDir()} {
		if err := s.Remove(t.Context(), cdir); err != nil {
			t.Errorf("Remove(%q) = %v, want nil", cdir, err)
		}
	}
	if err := s.Remove(t.Context(), "relative/dir"); err == nil {
		t.Errorf("Remove(relative) = nil, want an error")
	}
}
