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
	// a moment, and another load starting then removed it as abandoned. One under this name
	// whose lock is free is a killed load's, or one a load is about to lock: PruneStaging
	// removes it, and that load, finding it gone, makes another.
	newStagingPrefix = ".loadnew-"
	// doneStagingPrefix names a staging dir its load is done with: renamed there, unlocked,
	// then removed, so that no process locks it (which creates its .lock again) while its
	// files go. Any such dir is garbage.
	doneStagingPrefix = ".loadrm-"
	// unlockedMaxAge is how old a staging dir without a lock file must be before it is
	// taken for a killed load's rather than one about to lock it.
	unlockedMaxAge = 10 * time.Minute
	// stagingTries bounds how many times a load makes its staging dir anew after finding it
	// removed before it could lock it.
	stagingTries = 5
)

// stagingDir makes a staging directory in parent and locks it for as long as the load runs.
// A directory whose lock is free belongs to a load that was killed: it is removed here, so a
// crash costs disk only until the next load (or prune). The returned func unlocks and removes
// the dir.
func stagingDir(parent string) (dir string, done func() error, err error) {
	PruneStaging(parent)
	for try := 0; try < stagingTries; try++ {
		tmp, err := os.MkdirTemp(parent, newStagingPrefix)
		if err != nil {
			return "", nil, err
		}
		l, ok, err := lockfile.TryLock(filepath.Join(tmp, ".lock"), 0o600, true)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !ok) {
			continue // another load's PruneStaging took it for abandoned
		}
		if err != nil {
			return "", nil, errors.Join(fmt.Errorf("locking %s: %w", tmp, err), os.RemoveAll(tmp))
		}
		dir = filepath.Join(parent, stagingPrefix+strings.TrimPrefix(filepath.Base(tmp), newStagingPrefix))
		if err := os.Rename(tmp, dir); errors.Is(err, fs.ErrNotExist) {
			l.Unlock()
			continue
		} else if err != nil {
			return "", nil, errors.Join(fmt.Errorf("creating %s: %w", dir, err), os.RemoveAll(tmp), l.Unlock())
		}
		return dir, func() error {
			gone := filepath.Join(parent, doneStagingPrefix+strings.TrimPrefix(filepath.Base(dir), stagingPrefix))
			if err := os.Rename(dir, gone); err != nil {
				// Removed first, unlocked last: no other load may see it unlocked while it
				// exists under stagingPrefix.
				return errors.Join(err, os.RemoveAll(dir), l.Unlock())
			}
			return errors.Join(l.Unlock(), os.RemoveAll(gone))
		}, nil
	}
	return "", nil, fmt.Errorf("making a staging dir in %s: removed by other processes %d times", parent, stagingTries)
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
		case strings.HasPrefix(e.Name(), doneStagingPrefix):
			freed += dirSize(dir)
			os.RemoveAll(dir)
		case strings.HasPrefix(e.Name(), stagingPrefix), strings.HasPrefix(e.Name(), newStagingPrefix):
			// Never creating the lock file: made in a dir its load renamed away and is
			// removing, it would fail that removal ("directory not empty").
			l, ok, err := lockfile.TryLockExisting(filepath.Join(dir, ".lock"), true)
			if errors.Is(err, fs.ErrNotExist) {
				// A load locks its dir before naming it stagingPrefix, so such a dir
				// without a lock file is abandoned (by an older strata). Under
				// newStagingPrefix it may be a load's between its mkdir and its lock, or
				// one killed right then: only an old one is abandoned.
				fi, err := e.Info()
				if strings.HasPrefix(e.Name(), stagingPrefix) || (err == nil && time.Since(fi.ModTime()) > unlockedMaxAge) {
					freed += dirSize(dir)
					os.RemoveAll(dir)
				}
				continue
			}
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
