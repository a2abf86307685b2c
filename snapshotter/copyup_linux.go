package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// CopyUp fills data, the existing, empty data dir of a named volume, with what the image
// holds at target, as docker copies an image's content into an empty volume the first time a
// container mounts it there: the tree as PopulateVolume copies one (owners, modes, xattrs,
// times, symlinks as symlinks and never followed, hard links), and the directory's own owner,
// mode and xattrs given to data. copied is false, and data left as it is, when the image has
// nothing at target. The caller holds the volume's lock and has seen data empty.
//
// The copy is made in a temp dir beside data (in the volume's dir, on its filesystem) and its
// entries are then renamed into data, which stays the same directory: a container that
// mounts the volume already keeps seeing what the others see.
func (s *Snapshotter) CopyUp(ctx context.Context, containerDir string, diffIDs []v1.Hash, target, data string) (copied bool, err error) {
	if !filepath.IsAbs(containerDir) || !filepath.IsAbs(data) {
		return false, errors.New("container dir and volume dir must be absolute paths")
	}
	u, err := s.imageView(ctx, containerDir, diffIDs)
	if err != nil {
		return false, fmt.Errorf("copying %s into its volume: %w", target, err)
	}
	rel, n, err := u.resolve(target)
	if err != nil {
		return false, fmt.Errorf("copying %s into its volume: %w", target, err)
	}
	if n == nil || len(n.layers) == 0 {
		return false, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(data), ".copyup-")
	if err != nil {
		return false, err
	}
	defer func() {
		if rerr := removeAll(tmp); rerr != nil && err == nil {
			err = rerr
		}
	}()
	staged := filepath.Join(tmp, "d")
	if err := s.populateVolume(ctx, rel, n, staged, nil); err != nil {
		return false, fmt.Errorf("copying %s into its volume: %w", target, err)
	}
	names, err := readDirNames(staged)
	if err != nil {
		return false, err
	}
	for _, name := range names {
		// NOREPLACE: whatever appeared in data meanwhile (a running container's write) wins.
		err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(staged, name), unix.AT_FDCWD, filepath.Join(data, name), unix.RENAME_NOREPLACE)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return false, &os.LinkError{Op: "rename", Old: filepath.Join(staged, name), New: filepath.Join(data, name), Err: err}
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(staged, &st); err != nil {
		return false, err
	}
	c := newCopier(ctx, data, s.layer.MinFreeBytes)
	if err := c.meta(staged, data, &st); err != nil {
		return false, err
	}
	return true, nil
}
