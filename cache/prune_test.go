package cache

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestPruneRemovesOnlyUnreachable(t *testing.T) {
	ls := seededLayers(t, 20, 3, 16<<10)
	keep := imageOf(t, ls[0], ls[1])
	drop := imageOf(t, ls[0], ls[2])
	reg := newFakeRegistry(t, keep, drop)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	for ref, img := range map[string]v1.Image{"example.com/keep:1": keep, "example.com/drop:1": drop} {
		if _, err := s.WriteImage(ctx, ref, img, WriteOptions{Fetch: reg.fetch}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Untag("example.com/drop:1"); err != nil {
		t.Fatal(err)
	}
	// Leftovers of a killed pull: a partial download nobody holds, and an old index temp file.
	partial := filepath.Join(s.Dir(), "ingest", hashOf([]byte("x")).Hex+".partial")
	if err := os.WriteFile(partial, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	staleLock := filepath.Join(s.Dir(), "ingest", hashOf([]byte("y")).Hex+".lock")
	if err := os.WriteFile(staleLock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.Dir(), ".index.json.tmp-123")
	if err := os.WriteFile(tmp, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(tmp, old, old); err != nil {
		t.Fatal(err)
	}

	dropManifest, _ := drop.Digest()
	dropConfig, _ := drop.ConfigName()
	dropOnly := map[v1.Hash]bool{dropManifest: true, dropConfig: true, layerDescs(t, drop)[1].Digest: true}
	var wantFreed int64
	for h := range dropOnly {
		fi, err := os.Stat(s.BlobPath(h))
		if err != nil {
			t.Fatal(err)
		}
		wantFreed += fi.Size()
	}
	wantFreed += int64(len("half") + len("{"))

	for _, dryRun := range []bool{true, false} {
		removed, freed, err := s.Prune(ctx, dryRun)
		if err != nil {
			t.Fatalf("Prune(dryRun %v) = %v", dryRun, err)
		}
		if len(removed) != len(dropOnly) || freed != wantFreed {
			t.Errorf("Prune(dryRun %v) removed %d blobs, %d bytes, want %d, %d", dryRun, len(removed), freed, len(dropOnly), wantFreed)
		}
		for _, d := range removed {
			if !dropOnly[d.Digest] {
				t.Errorf("Prune(dryRun %v) removed %s, which keep:1 needs", dryRun, short(d.Digest))
			}
		}
		for h := range dropOnly {
			if got := s.HasBlob(h); got != dryRun {
				t.Errorf("after Prune(dryRun %v): HasBlob(%s) = %v, want %v", dryRun, short(h), got, dryRun)
			}
		}
	}
	if _, err := os.Stat(partial); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale partial after Prune: %v", err)
	}
	checkIngestEmpty(t, s)
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file after Prune: %v", err)
	}
	// Everything keep:1 needs is still there and readable.
	for _, l := range layerDescs(t, keep) {
		if !s.HasBlob(l.Digest) {
			t.Errorf("Prune removed layer %s of a tagged image", short(l.Digest))
		}
	}
	desc, err := s.Resolve("example.com/keep:1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.ConfigFile(); err != nil {
		t.Errorf("config of the kept image after Prune: %v", err)
	}
	removed, freed, err := s.Prune(ctx, false)
	if err != nil || len(removed) != 0 || freed != 0 {
		t.Errorf("second Prune = %d blobs, %d bytes, %v, want nothing", len(removed), freed, err)
	}
}

func TestPruneSkipsLockedPartial(t *testing.T) {
	s := openStore(t, t.TempDir())
	h := hashOf([]byte("downloading"))
	partial := filepath.Join(s.Dir(), "ingest", h.Hex+".partial")
	if err := os.WriteFile(partial, []byte("in progress"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := s.lockBlob(context.Background(), h.Hex)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.release() })
	if _, _, err := s.Prune(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(partial); err != nil {
		t.Errorf("Prune removed a partial another writer holds: %v", err)
	}
}

func TestHoldExclusiveBlocksWriters(t *testing.T) {
	img := imageOf(t, seededLayers(t, 50, 1, 1024)...)
	reg := newFakeRegistry(t, img)
	s := openStore(t, t.TempDir())
	release, err := s.HoldExclusive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A writer must wait: with a context already cancelled, it gives up instead of writing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WriteImage(ctx, testRef, img, WriteOptions{Fetch: reg.fetch}); !errors.Is(err, context.Canceled) {
		t.Errorf("WriteImage under HoldExclusive = %v, want it to wait (context.Canceled)", err)
	}
	if len(reg.calls) != 0 {
		t.Errorf("WriteImage under HoldExclusive fetched %d blobs, want none", len(reg.calls))
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch}); err != nil {
		t.Errorf("WriteImage after release = %v", err)
	}
}

// TestPruneRemovesFreshIndexTemps: a temp file of index.json left by a process killed during a
// Tag, or of oci-layout left by one killed while it made a new store, goes with the next Prune
// however young: both are made only under index.json's lock, which Prune holds. Prune kept
// them for 10 minutes, so a prune right after a killed rmi, tag or first pull left them.
func TestPruneRemovesFreshIndexTemps(t *testing.T) {
	s := openStore(t, t.TempDir())
	index := filepath.Join(s.Dir(), ".index.json.tmp-123")
	layout := filepath.Join(s.Dir(), ".oci-layout.tmp-456")
	for _, p := range []string{index, layout} {
		if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, freed, err := s.Prune(context.Background(), false); err != nil || freed != 2 {
		t.Fatalf("Prune = %d bytes freed, %v; want 2", freed, err)
	}
	for _, p := range []string{index, layout} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("Prune left a fresh %s", p)
		}
	}
}
