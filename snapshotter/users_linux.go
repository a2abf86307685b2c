package snapshotter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
)

// usersDir records which container dirs use a layer dir as a lower:
// <root>/.users/<hex>/<key> is a symlink to a container dir that Prepare made over the layer.
// Prune keeps a layer any of whose users' dirs still exists, whatever keep says: keep is
// computed by the caller from images and container records, and a container is recorded
// only after Prepare returns, so an rmi's collection between the two deleted the lowers of
// a container about to start. A record whose container dir is gone (removed, or never
// completed) is dropped by the next Prune; there is no count to drift.
const usersDir = ".users"

// userKey names containerDir's record: a hash, as a path holds slashes.
func userKey(containerDir string) string {
	sum := sha256.Sum256([]byte(containerDir))
	return hex.EncodeToString(sum[:16])
}

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

// addUsers records containerDir as a user of each layer, each under its layer lock, so that
// no Prune removes one in between: a layer pruned before is ErrLayerNotFound. On error the
// records made are removed.
func (s *Snapshotter) addUsers(ctx context.Context, containerDir string, diffIDs []v1.Hash) (err error) {
	var added []v1.Hash
	defer func() {
		if err != nil {
			err = errors.Join(err, s.removeUsers(containerDir, added))
		}
	}()
	for _, d := range diffIDs {
		if err := s.addUser(ctx, containerDir, d); err != nil {
			return err
		}
		added = append(added, d)
	}
	return nil
}

func (s *Snapshotter) addUser(ctx context.Context, containerDir string, d v1.Hash) error {
	l, err := s.lockLayer(ctx, d.Hex)
	if err != nil {
		return fmt.Errorf("locking layer %s: %w", short(d), err)
	}
	defer l.Unlock()
	if !s.Has(d) {
		return fmt.Errorf("%w: %s", ErrLayerNotFound, short(d))
	}
	dir := filepath.Join(s.root, usersDir, d.Hex)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("recording a user of layer %s: %w", short(d), err)
	}
	link := filepath.Join(dir, userKey(containerDir))
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recording a user of layer %s: %w", short(d), err)
	}
	if err := os.Symlink(containerDir, link); err != nil {
		return fmt.Errorf("recording a user of layer %s: %w", short(d), err)
	}
	return nil
}

// removeUsers drops containerDir's records of diffIDs.
func (s *Snapshotter) removeUsers(containerDir string, diffIDs []v1.Hash) error {
	var errs []error
	for _, d := range diffIDs {
		link := filepath.Join(s.root, usersDir, d.Hex, userKey(containerDir))
		if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inUse reports whether a container dir recorded as a user of the layer hex still exists.
// Records of dirs that are gone are removed unless dryRun. The caller holds the layer lock.
func (s *Snapshotter) inUse(hex string, dryRun bool) (bool, error) {
	dir := filepath.Join(s.root, usersDir, hex)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	used := false
	for _, e := range ents {
		link := filepath.Join(dir, e.Name())
		target, err := os.Readlink(link)
		if err != nil {
			continue // not a record of ours
		}
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			used = true
			continue
		}
		if !dryRun {
			if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return true, err
			}
		}
	}
	if !used && !dryRun {
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	return used, nil
}

// pruneUsers removes the records of layers whose dir is gone (removed by an older strata, or
// by hand), each under its layer lock.
func (s *Snapshotter) pruneUsers() error {
	ents, err := os.ReadDir(filepath.Join(s.root, usersDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pruning layer users: %w", err)
	}
	var errs []error
	for _, e := range ents {
		hex := e.Name()
		if !isHex64(hex) || s.Has(v1.Hash{Algorithm: "sha256", Hex: hex}) {
			continue
		}
		l, ok, err := s.tryLockLayer(hex)
		if err != nil || !ok {
			continue
		}
		if !s.Has(v1.Hash{Algorithm: "sha256", Hex: hex}) {
			if err := os.RemoveAll(filepath.Join(s.root, usersDir, hex)); err != nil {
				errs = append(errs, fmt.Errorf("pruning layer users: %w", err))
			}
		}
		l.Unlock()
	}
	return errors.Join(errs...)
}
