package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-run/strata/internal/lockfile"
)

const (
	// stagingPrefix names the directories a Load stages a tar stream in. Such a dir is
	// locked (its .lock) from the moment it has this name until the load ends.
	stagingPrefix = ".load-"
	// newStagingPrefix names a staging dir not yet locked: it is made under this name,
	// locked, then renamed to stagingPrefix. Made under its final name, it was unlocked for
	// a moment, and another load starting then removed it as abandoned.
	newStagingPrefix = ".loadnew-"
	// doneStagingPrefix names a staging dir being removed by its load: renamed away from
	// stagingPrefix first, so no other process locks it (which creates its .lock again) while
	// its files go.
	doneStagingPrefix = ".loadrm-"
	// newStagingMaxAge is how old a newStagingPrefix or doneStagingPrefix dir must be before
	// it is taken for the leftover of a load killed between its mkdir and its rename, or
	// while removing it.
	newStagingMaxAge = 10 * time.Minute
)

// stagingDir makes a staging directory in parent and locks it for as long as the load runs.
// A directory whose lock is free belongs to a load that was killed: it is removed here, so a
// crash costs disk only until the next load (or prune). The returned func unlocks and removes
// the dir.
func stagingDir(parent string) (dir string, done func() error, err error) {
	PruneStaging(parent)
	tmp, err := os.MkdirTemp(parent, newStagingPrefix)
	if err != nil {
		return "", nil, err
	}
	// Nobody else locks a dir under this name: the lock is free.
	l, ok, err := lockfile.TryLock(filepath.Join(tmp, ".lock"), 0o600, true)
	if err == nil && !ok {
		err = errors.New("held by another process")
	}
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("locking %s: %w", tmp, err), os.RemoveAll(tmp))
	}
	dir = filepath.Join(parent, stagingPrefix+strings.TrimPrefix(filepath.Base(tmp), newStagingPrefix))
	if err := os.Rename(tmp, dir); err != nil {
		return "", nil, errors.Join(fmt.Errorf("creating %s: %w", dir, err), os.RemoveAll(tmp), l.Unlock())
	}
	return dir, func() error {
		// Renamed away and removed first, unlocked last: no other load may see it unlocked
		// while it exists under stagingPrefix.
		gone := filepath.Join(parent, doneStagingPrefix+strings.TrimPrefix(filepath.Base(dir), stagingPrefix))
		if err := os.Rename(dir, gone); err != nil {
			return errors.Join(err, os.RemoveAll(dir), l.Unlock())
		}
		return errors.Join(os.RemoveAll(gone), l.Unlock())
	}, nil
}

// PruneStaging removes the staging dirs in parent that no running load holds (left by loads
// that were killed) and returns the bytes they held. Errors are ignored: leftovers cost disk,
// not correctness, and the next load or prune tries again.
func PruneStaging(parent string) (freed int64) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	for _, e := range ents {
		dir := filepath.Join(parent, e.Name())
		switch {
		case !e.IsDir():
			continue
		case strings.HasPrefix(e.Name(), newStagingPrefix), strings.HasPrefix(e.Name(), doneStagingPrefix):
			// Not locked yet, or being removed: only an old one is abandoned.
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < newStagingMaxAge {
				continue
			}
			freed += dirSize(dir)
			os.RemoveAll(dir)
		case strings.HasPrefix(e.Name(), stagingPrefix):
			l, ok, err := lockfile.TryLock(filepath.Join(dir, ".lock"), 0o600, true)
			if err != nil || !ok {
				continue
			}
			freed += dirSize(dir)
			os.RemoveAll(dir)
			l.Unlock()
		}
	}
	return freed
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
