package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
)

// lockRetry is how often a blocked lock is retried; flock(2) cannot be interrupted by a
// context, so waiting polls LOCK_NB instead.
const lockRetry = 20 * time.Millisecond

// blobLock is an exclusive flock on ingest/<hex>.lock: it makes sure one process at a time
// appends to ingest/<hex>.partial. Unlike index.json.lock, these files are removed when the
// lock is released (one per blob ever pulled would pile up), which is only safe because
// lockBlob re-checks after locking that the file it holds is still the one at the path: a
// process that opened the file just before it was unlinked would otherwise hold a lock on a
// file nobody else can see.
type blobLock struct {
	f    *os.File
	path string
}

// lockBlob takes the ingest lock for hex, waiting until ctx is done.
func (s *Store) lockBlob(ctx context.Context, hex string) (*blobLock, error) {
	path := filepath.Join(s.dir, ingestDir, hex+".lock")
	if s.noIngest != nil {
		return nil, fmt.Errorf("locking %s: %w", path, s.noIngest)
	}
	for {
		l, ok, err := tryLockBlob(path)
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if ok {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for lock %s: %w", path, context.Cause(ctx))
		case <-time.After(lockRetry):
		}
	}
}

// tryLockBlob tries once; ok is false when another process holds the lock.
func tryLockBlob(path string) (l *blobLock, ok bool, err error) {
	// lockfile refuses a symlink or FIFO planted at path rather than lock through it.
	lk, ok, err := lockfile.TryLock(path, 0o644, true)
	if err != nil || !ok {
		return nil, false, err
	}
	f := lk.File()
	var held, named unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &held); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := unix.Stat(path, &named); err != nil || held.Ino != named.Ino || held.Dev != named.Dev {
		// The holder before us unlinked the file: our lock guards nothing. Try again.
		f.Close()
		return nil, false, nil
	}
	return &blobLock{f: f, path: path}, true, nil
}

// release unlinks the lock file while still holding it, then unlocks.
func (l *blobLock) release() error {
	return errors.Join(removeIfExists(l.path), l.f.Close())
}

// lockIndex takes the exclusive lock that serializes read-modify-write of index.json.
func (s *Store) lockIndex(ctx context.Context) (*lockfile.Lock, error) {
	return lockFlock(ctx, filepath.Join(s.dir, indexLockFile), true)
}

// lockGC takes gc.lock: shared by writers, which create blobs that nothing references until
// their manifest is tagged, and exclusive for Prune, which would otherwise delete them. As
// every writer takes it shared, the writer after a killed import or commit removes the layer
// temp file it left there (sweepLayerTemps).
func (s *Store) lockGC(ctx context.Context, exclusive bool) (*lockfile.Lock, error) {
	l, err := lockFlock(ctx, filepath.Join(s.dir, gcLockFile), exclusive)
	if err == nil && !exclusive {
		s.sweepLayerTemps()
	}
	return l, err
}

// lockFlock waits for the lock at path. A lock file a killed process left is no obstacle
// (its lock died with it); a FIFO or symlink at path fails at once (lockfile.ErrNotLockFile).
func lockFlock(ctx context.Context, path string, exclusive bool) (*lockfile.Lock, error) {
	l, err := lockfile.Wait(ctx, path, 0o644, exclusive)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return l, nil
}
