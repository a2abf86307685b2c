package cache

import "context"

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
