package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

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
	// removes it, and that load, finding it gone, makes another. A load holds a shared lock
	// on the parent dir from the mkdir to the lock (see lockParent), so one without a lock
	// file is a killed load's when PruneStaging can lock the parent exclusively.
	newStagingPrefix = ".loadnew-"
	// doneStagingPrefix names a staging dir its load is done with: renamed there, unlocked,
	// then removed, so that no process locks it (which creates its .lock again) while its
	// files go. Any such dir is garbage.
	doneStagingPrefix = ".loadrm-"
	// unlockedMaxAge is how old a staging dir without a lock file must be before it is
	// taken for a killed load's rather than one about to lock it, when the parent's lock
	// cannot tell (another process holds it, or the filesystem has no flock on dirs).
	unlockedMaxAge = 10 * time.Minute
	// parentLockWait bounds how long a load tries for the parent's shared lock: anyone who
	// can read the parent can lock it, and a load must not wait on them. Without the lock a
	// load goes on; its dir is then protected by unlockedMaxAge alone.
	parentLockWait = time.Second
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
		unlockParent, _ := lockParent(parent, unix.LOCK_SH, parentLockWait)
		tmp, err := os.MkdirTemp(parent, newStagingPrefix)
		if err != nil {
			unlockParent()
			return "", nil, err
		}
		l, ok, err := lockfile.TryLock(filepath.Join(tmp, ".lock"), 0o600, true)
		unlockParent()
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
				} else {
					freed += pruneUnlockedNew(parent, dir)
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

// pruneUnlockedNew removes dir, a young staging dir under newStagingPrefix without a lock
// file, when no load is between making a dir and locking it: loads hold the parent's shared
// lock for that step, so with the parent locked exclusively, dir is a killed load's. It
// returns the bytes freed.
func pruneUnlockedNew(parent, dir string) (freed int64) {
	unlock, ok := lockParent(parent, unix.LOCK_EX, 0)
	if !ok {
		return 0
	}
	defer unlock()
	if _, err := os.Lstat(filepath.Join(dir, ".lock")); !errors.Is(err, fs.ErrNotExist) {
		return 0 // locked since it was listed
	}
	freed = dirSize(dir)
	os.RemoveAll(dir)
	return freed
}

// lockParent takes the flock how (unix.LOCK_SH or LOCK_EX) on the directory parent, trying
// for up to wait. ok is false when it could not have it: held by another process, or a
// filesystem without flock on directories; unlock is then a no-op. A flock on the directory
// itself leaves no file behind in it.
func lockParent(parent string, how int, wait time.Duration) (unlock func(), ok bool) {
	f, err := os.Open(parent)
	if err != nil {
		return func() {}, false
	}
	deadline := time.Now().Add(wait)
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, true // closing the only fd drops the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) || time.Now().After(deadline) {
			f.Close()
			return func() {}, false
		}
		time.Sleep(lockfile.Retry)
	}
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
