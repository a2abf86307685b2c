package snapshotter

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
)

// lockLayer takes diffID's layer lock, waiting until ctx is done. pruneLayer removes the lock
// file while holding it, so a lock taken on a file no longer at the path guards nothing: it
// is retried, as cache's ingest locks are.
func (s *Snapshotter) lockLayer(ctx context.Context, hex string) (*lockfile.Lock, error) {
	for {
		l, ok, err := s.tryLockLayer(hex)
		if err != nil || ok {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(lockRetry):
		}
	}
}

// tryLockLayer tries once; ok is false when another process holds the lock.
func (s *Snapshotter) tryLockLayer(hex string) (*lockfile.Lock, bool, error) {
	path := s.lockPath(hex)
	// A few tries: each lost one means the file was unlinked by a holder that then let go.
	for try := 0; try < 3; try++ {
		l, ok, err := lockfile.TryLock(path, 0o600, true)
		if errors.Is(err, fs.ErrNotExist) {
			// .locks removed by hand, or a root New did not make: made again.
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, false, err
			}
			l, ok, err = lockfile.TryLock(path, 0o600, true)
		}
		if err != nil || !ok {
			return nil, false, err
		}
		var held, named unix.Stat_t
		if err := unix.Fstat(int(l.File().Fd()), &held); err != nil {
			l.Unlock()
			return nil, false, err
		}
		if err := unix.Stat(path, &named); err == nil && held.Ino == named.Ino && held.Dev == named.Dev {
			return l, true, nil
		}
		// Unlinked by its last holder: lock the file now at the path (or create it).
		l.Unlock()
	}
	return nil, false, nil
}
