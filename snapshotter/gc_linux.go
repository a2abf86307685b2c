package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// probeMaxAge is how old a .probe-* dir must be before Prune takes it for a crash's leftover
// rather than another process's probe in progress.
const probeMaxAge = 10 * time.Minute

// Layer describes one layer dir, or for Prune also a leftover temporary dir.
type Layer struct {
	// DiffID is the layer's DiffID; zero for a leftover without one.
	DiffID v1.Hash
	// Dir is the layer dir's path.
	Dir string
	// Size is the disk usage in bytes (DirSize).
	Size int64
	// Created is when the layer dir was made (birth time, or change time where the
	// filesystem has none).
	Created time.Time
}

// List returns the layer dirs, sorted by DiffID hex.
func (s *Snapshotter) List() ([]Layer, error) {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("listing layers in %s: %w", s.root, err)
	}
	var out []Layer
	for _, e := range entries {
		if !e.IsDir() || !isHex64(e.Name()) {
			continue
		}
		l, err := s.describe(filepath.Join(s.root, e.Name()), v1.Hash{Algorithm: "sha256", Hex: e.Name()})
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("listing layers in %s: %w", s.root, err)
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *Snapshotter) describe(dir string, diffID v1.Hash) (Layer, error) {
	size, err := DirSize(dir)
	if err != nil {
		return Layer{}, err
	}
	return Layer{DiffID: diffID, Dir: dir, Size: size, Created: created(dir)}, nil
}

// created is dir's birth time, falling back to its change time.
func created(dir string) time.Time {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME|unix.STATX_CTIME, &stx); err != nil {
		return time.Time{}
	}
	if stx.Mask&unix.STATX_BTIME != 0 {
		return time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec))
	}
	return time.Unix(stx.Ctime.Sec, int64(stx.Ctime.Nsec))
}

// Prune removes the layer dirs whose DiffID is not in keep, the damaged dirs unpacks replaced
// (.damaged-*) whose DiffID is not in keep, and temporary dirs left by unpacks that died,
// and returns what it removed (with dryRun, what it would remove). The
// caller computes keep from every image in the cache and every container; there is no
// reference count on disk to drift. A layer being unpacked right now is skipped.
//
// A layer dir is first renamed to a temporary name and then deleted, so a crash midway
// leaves a temporary dir (pruned next time), never a half layer under its DiffID.
func (s *Snapshotter) Prune(ctx context.Context, keep map[v1.Hash]bool, dryRun bool) ([]Layer, error) {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("pruning layers in %s: %w", s.root, err)
	}
	var removed []Layer
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, errors.Join(append(errs, fmt.Errorf("pruning layers: %w", err))...)
		}
		name := e.Name()
		var l *Layer
		var err error
		switch {
		case isHex64(name) && e.IsDir():
			d := v1.Hash{Algorithm: "sha256", Hex: name}
			if keep[d] {
				continue
			}
			l, err = s.pruneLayer(d, dryRun)
		case strings.HasPrefix(name, tmpPrefix):
			l, err = s.pruneTmp(name, dryRun)
		case strings.HasPrefix(name, damagedPrefix):
			// Kept while its DiffID is: a container made before it was replaced may
			// have it as a lower.
			if hex := damagedHex(name); hex != "" && keep[v1.Hash{Algorithm: "sha256", Hex: hex}] {
				continue
			}
			l, err = s.pruneDamaged(name, dryRun)
		case strings.HasPrefix(name, ".probe-"):
			l, err = s.pruneProbe(name, dryRun)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pruning %s: %w", name, err))
		}
		if l != nil {
			removed = append(removed, *l)
		}
	}
	if !dryRun {
		if err := s.pruneLocks(); err != nil {
			errs = append(errs, err)
		}
		if err := s.pruneProofs(); err != nil {
			errs = append(errs, err)
		}
		if err := s.prunePrints(); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// pruneLocks removes the lock files of DiffIDs that have no layer dir and that nobody holds,
// so .locks does not grow with every layer ever pulled.
func (s *Snapshotter) pruneLocks() error {
	entries, err := os.ReadDir(filepath.Join(s.root, locksDir))
	if err != nil {
		return fmt.Errorf("pruning lock files: %w", err)
	}
	var errs []error
	for _, e := range entries {
		hex, ok := strings.CutSuffix(e.Name(), ".lock")
		if !ok || !isHex64(hex) || s.Has(v1.Hash{Algorithm: "sha256", Hex: hex}) {
			continue
		}
		lock, locked, err := s.tryLockLayer(hex)
		if err != nil || !locked {
			continue // an unpack is running: its lock stays
		}
		if err := os.Remove(s.lockPath(hex)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("pruning lock file: %w", err))
		}
		lock.Unlock()
	}
	return errors.Join(errs...)
}

// pruneLayer removes one layer dir under its lock; nil, nil when it is busy or gone.
func (s *Snapshotter) pruneLayer(d v1.Hash, dryRun bool) (*Layer, error) {
	lock, ok, err := s.tryLockLayer(d.Hex)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	defer lock.Unlock()
	dir := filepath.Join(s.root, d.Hex)
	l, err := s.describe(dir, d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil || dryRun {
		return &l, err
	}
	doomed := filepath.Join(s.root, fmt.Sprintf("%s%s-rm%d", tmpPrefix, d.Hex, time.Now().UnixNano()))
	if err := os.Rename(dir, doomed); err != nil {
		return nil, err
	}
	if err := removeAll(doomed); err != nil {
		return &l, err
	}
	// Removing the lock file while holding it costs at most double work for a process
	// waiting on the old file: the rename in Unpack still picks a single winner.
	if err := os.Remove(s.lockPath(d.Hex)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &l, err
	}
	return &l, nil
}

// pruneTmp removes a .tmp-* dir unless an unpack of its DiffID holds the lock.
func (s *Snapshotter) pruneTmp(name string, dryRun bool) (*Layer, error) {
	dir := filepath.Join(s.root, name)
	var d v1.Hash
	if hex := tmpHex(name); hex != "" {
		d = v1.Hash{Algorithm: "sha256", Hex: hex}
		lock, ok, err := s.tryLockLayer(hex)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		defer lock.Unlock()
	}
	l, err := s.describe(dir, d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil || dryRun {
		return &l, err
	}
	return &l, removeAll(dir)
}

// pruneProbe removes a driver probe dir left by a crash (old enough not to be in use).
func (s *Snapshotter) pruneProbe(name string, dryRun bool) (*Layer, error) {
	dir := filepath.Join(s.root, name)
	fi, err := os.Lstat(dir)
	if err != nil || time.Since(fi.ModTime()) < probeMaxAge {
		return nil, nil
	}
	l, err := s.describe(dir, v1.Hash{})
	if err != nil || dryRun {
		return &l, err
	}
	return &l, removeAll(dir)
}

// FilesSize is what the files of the tree at dir hold, in bytes: the sizes of everything but
// directories, each hard-linked inode once. It is docker's measure of a container's writes
// (SizeRw: pkg/directory's Size), 0 for a container that wrote nothing, where DirSize counts
// the blocks of its empty upper directory. What goes while it is walked (a running
// container's writes) is skipped, as docker skips it; dir itself missing is an error. The
// tree is walked by directory handles (measureTree), so a container that nested directories
// past PATH_MAX is measured, where a walk by path failed with ENAMETOOLONG.
func FilesSize(dir string) (int64, error) {
	return measureTree(dir, true)
}

// DirSize is the disk usage of the tree at dir in bytes: allocated blocks (st_blocks * 512,
// so sparse files count what they use), each hard-linked inode once. `system df` shows it.
// The tree is walked by directory handles, however deep (measureTree); an entry that goes
// while it is walked fails it.
func DirSize(dir string) (int64, error) {
	return measureTree(dir, false)
}
