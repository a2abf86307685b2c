package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ErrVolumeOverFile: an image VOLUME names a path that the image holds as a file, where no
// directory can be mounted (docker: "cannot mount volume over existing file").
var ErrVolumeOverFile = errors.New("cannot mount volume over existing file")

// PopulateVolume makes dst, a directory that must not exist yet, a copy of what the image
// holds at target (a container path), as docker fills an anonymous volume when it creates the
// container: the directory and everything under it, with owners, modes (setuid bits too),
// times, xattrs, symlinks as symlinks, hard links as hard links, device nodes and fifos. A
// target the image lacks gives an empty directory, owned by root, mode 0755. Call it after
// Prepare (and AddMountpoints) with the same diffIDs.
//
// The image is read in the merged view the container will see, without mounting it: the
// layer dirs with overlay's rules (the vfs rootfs copy for vfs). target is resolved there
// through the image's symlinks but never out of the image (securejoin's rules), so a VOLUME
// whose path leads to a host directory copies the image's directory of that name, or
// nothing; no symlink of the copied tree is followed. A target that resolves to the image's root is an
// error, as is one the image holds as a file (ErrVolumeOverFile).
//
// dst is built beside itself and renamed in when complete, so a dst that exists is whole.
// The copy keeps holes, stops when ctx is done, and fails with layers.ErrLowDiskSpace rather
// than take the free space of dst's filesystem below Options.Layer.MinFreeBytes, as Unpack;
// it leaves nothing then. PopulateVolume never mounts.
func (s *Snapshotter) PopulateVolume(ctx context.Context, containerDir string, diffIDs []v1.Hash, target, dst string) error {
	if err := s.populateVolume(ctx, containerDir, diffIDs, target, dst); err != nil {
		return fmt.Errorf("populating volume %s: %w", target, err)
	}
	return nil
}

func (s *Snapshotter) populateVolume(ctx context.Context, containerDir string, diffIDs []v1.Hash, target, dst string) (err error) {
	if !filepath.IsAbs(containerDir) || !filepath.IsAbs(dst) {
		return errors.New("container dir and volume dir must be absolute paths")
	}
	u, err := s.imageView(ctx, containerDir, diffIDs)
	if err != nil {
		return err
	}
	rel, n, err := u.resolve(target)
	if err != nil {
		return err
	}
	if rel == "/" {
		return errors.New("the path leads to the image's root")
	}
	var lowers []string
	if n != nil {
		lowers = n.layers
	}
	var top unix.Stat_t
	if len(lowers) > 0 {
		if err := unix.Lstat(filepath.Join(lowers[0], rel), &top); err != nil {
			return err
		}
		if top.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%w: %s is not a directory in the image", ErrVolumeOverFile, rel)
		}
	}

	// 0700: a volume holds the image's setuid files and device nodes as they are, like an
	// upper dir (the container dir is 0710 already).
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(tmp))
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if len(lowers) > 0 {
		c := &volumeCopier{newCopier(ctx, tmp, s.layer.MinFreeBytes)}
		if err := c.check(); err != nil {
			return err
		}
		if err := c.dir(lowers, rel, tmp); err != nil {
			return err
		}
		if err := c.meta(filepath.Join(lowers[0], rel), tmp, &top); err != nil {
			return err
		}
	}
	return os.Rename(tmp, dst)
}

// imageView is the merged view of the container's image as Prepare laid it out: the vfs
// rootfs copy, or the overlay lowers top first (the mountpoints layer of a read-only
// container on top).
func (s *Snapshotter) imageView(ctx context.Context, containerDir string, diffIDs []v1.Hash) (*unionFS, error) {
	if s.driver == VFS {
		return newUnionFS(ctx, []string{filepath.Join(containerDir, rootfsDir)}), nil
	}
	var layers []string
	top := filepath.Join(containerDir, mountpointsDir)
	if _, err := os.Lstat(top); err == nil {
		layers = append(layers, top)
	}
	lowers, err := s.lowerDirs(containerDir, diffIDs)
	if err != nil {
		return nil, err
	}
	for i := len(lowers) - 1; i >= 0; i-- {
		layers = append(layers, lowers[i])
	}
	return newUnionFS(ctx, layers), nil
}

// volumeCopier copies a directory of a merged view into a new tree. Every destination path
// is joined below a directory it made itself, and every source entry is read with lstat and
// O_NOFOLLOW: nothing in the image can lead it elsewhere on the host.
//
// Each VOLUME (or symlink to one path) copies its tree again: the checks of ctx and free
// space and the sparse copy are copier's, shared with the vfs rootfs's copy.
type volumeCopier struct {
	copier
}

// dir copies the merged children of rel, a directory held by layers (top first, down to the
// first opaque one), into dst, an empty directory.
func (c *volumeCopier) dir(layers []string, rel, dst string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, l := range layers {
		names, err := readDirNames(filepath.Join(l, rel))
		if err != nil {
			return err
		}
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			// No layer above l has name: its merged entry starts in l.
			if err := c.entry(layers[i:], path.Join(rel, name), filepath.Join(dst, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry copies the merged entry rel, looked up in layers (top first), to d.
func (c *volumeCopier) entry(layers []string, rel, d string) error {
	// Every entry: a directory of millions of names must not hold off a Ctrl-C.
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if err := c.count(copyInodeCost); err != nil {
		return err
	}
	var found []string
	var st unix.Stat_t
	for _, l := range layers {
		var cur unix.Stat_t
		err := unix.Lstat(filepath.Join(l, rel), &cur)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue
		case err != nil:
			return &os.PathError{Op: "lstat", Path: filepath.Join(l, rel), Err: err}
		}
		mode := cur.Mode & unix.S_IFMT
		if mode == unix.S_IFCHR && cur.Rdev == 0 {
			break // a whiteout hides the name here and below
		}
		if len(found) == 0 {
			st = cur
		}
		if mode != unix.S_IFDIR {
			if len(found) == 0 {
				found = []string{l}
			}
			break // below a directory, a non-directory is hidden by it
		}
		found = append(found, l)
		if isOpaque(filepath.Join(l, rel)) {
			break
		}
	}
	if len(found) == 0 {
		return nil // whited out
	}
	src := filepath.Join(found[0], rel)
	mode := st.Mode & unix.S_IFMT
	if mode == unix.S_IFDIR {
		if err := unix.Mkdir(d, 0o700); err != nil {
			return &os.PathError{Op: "mkdir", Path: d, Err: err}
		}
		if err := c.dir(found, rel, d); err != nil {
			return err
		}
		// After the children, so their creation does not bump the dir's mtime again.
		return c.meta(src, d, &st)
	}
	return c.leaf(src, d, &st)
}

// readDirNames lists a directory without following a symlink in its place.
func readDirNames(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	return f.Readdirnames(-1)
}
