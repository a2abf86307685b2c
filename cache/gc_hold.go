package cache

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/strata-run/strata/internal/lockfile"
)

// HoldExclusive waits until no WriteImage runs and keeps new ones from starting until release
// is called. Garbage collection outside the store (the snapshotter's layer dirs) runs under it,
// so a pull cannot unpack a layer between the moment the caller computes what is in use and
// the moment it deletes what is not. Do not call Prune while holding it: Prune takes the same
// lock.
func (s *Store) HoldExclusive(ctx context.Context) (release func() error, err error) {
	l, err := s.lockGC(ctx, true)
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}

// HoldExclusiveNotify is HoldExclusive that calls waiting once, before it waits, when the
// lock is held (a pull or a load writing, a container being created, another collection):
// for the caller to say why it does not return at once, as a pull of gigabytes can hold it
// for minutes.
func (s *Store) HoldExclusiveNotify(ctx context.Context, waiting func()) (release func() error, err error) {
	path := filepath.Join(s.dir, gcLockFile)
	l, ok, err := lockfile.TryLock(path, 0o644, true)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if ok {
		return l.Unlock, nil
	}
	if waiting != nil {
		waiting()
	}
	return s.HoldExclusive(ctx)
}
