package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
)

// layerTempPrefix names the temp files a new layer is written to in the store's dir (import's,
// commit's): LayerTemp makes them.
const layerTempPrefix = ".new-layer.tmp-"

// LayerTemp is a temp file in the store's dir that its writer holds a flock on while it uses
// it, from its creation until Remove: a killed writer's lock dies with it, so the next writer
// (sweepLayerTemps) removes its file at once, never one a live writer still uses.
type LayerTemp struct {
	File *os.File // open for writing; the caller may close it before Remove
	Path string
	lock *lockfile.Lock
}

// CreateLayerTemp makes a new held layer temp file, after removing those of dead writers.
func (s *Store) CreateLayerTemp() (*LayerTemp, error) {
	s.sweepLayerTemps()
	// A sweep may lock a file between its creation and our lock, and remove it: try anew.
	for range 100 {
		t, ok, err := tryLayerTemp(s.dir)
		if err != nil || ok {
			return t, err
		}
	}
	return nil, fmt.Errorf("creating a layer temp file in %s: removed each time before it was locked", s.dir)
}

func tryLayerTemp(dir string) (t *LayerTemp, ok bool, err error) {
	f, err := os.CreateTemp(dir, layerTempPrefix+"*")
	if err != nil {
		return nil, false, err
	}
	l, ok, err := lockfile.TryLockExisting(f.Name(), true)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil // swept already
	}
	if err != nil || !ok {
		f.Close()
		return nil, false, err
	}
	if !stillNamed(l.File(), f.Name()) {
		l.Unlock()
		f.Close()
		return nil, false, nil
	}
	return &LayerTemp{File: f, Path: f.Name(), lock: l}, true, nil
}

// Remove closes the file and removes it, releasing the lock only once it is gone.
func (t *LayerTemp) Remove() {
	t.File.Close()
	os.Remove(t.Path)
	t.lock.Unlock()
}

// stillNamed reports whether path still names the file f has open.
func stillNamed(f *os.File, path string) bool {
	var held, named unix.Stat_t
	if unix.Fstat(int(f.Fd()), &held) != nil || unix.Lstat(path, &named) != nil {
		return false
	}
	return held.Ino == named.Ino && held.Dev == named.Dev
}

// sweepLayerTemps removes the layer temp files no live writer holds: a killed import's or
// commit's. It is best effort: what it cannot remove, a later sweep or Prune will.
func (s *Store) sweepLayerTemps() int64 {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0
	}
	var freed int64
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), layerTempPrefix) || !e.Type().IsRegular() {
			continue
		}
		n, _ := removeDeadLayerTemp(filepath.Join(s.dir, e.Name()), false)
		freed += n
	}
	return freed
}

// removeDeadLayerTemp removes the layer temp file at path (with dryRun, only says it would)
// when no writer holds it, and returns its size; 0 when a writer holds it.
func removeDeadLayerTemp(path string, dryRun bool) (int64, error) {
	l, ok, err := lockfile.TryLockExisting(path, true)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, lockfile.ErrNotLockFile) {
		return 0, nil
	}
	if err != nil || !ok {
		return 0, err
	}
	defer l.Unlock()
	fi, err := l.File().Stat()
	if err != nil || !stillNamed(l.File(), path) {
		return 0, err
	}
	if !dryRun {
		if err := removeIfExists(path); err != nil {
			return 0, err
		}
	}
	return fi.Size(), nil
}
