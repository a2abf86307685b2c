package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/layers"
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
// through the image's symlinks but never out of the image (securejoin), so a VOLUME whose
// path leads to a host directory copies the image's directory of that name, or nothing; no
// symlink of the copied tree is followed. A target that resolves to the image's root is an
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
	u, err := s.imageView(containerDir, diffIDs)
	if err != nil {
		return err
	}
	joined, err := securejoin.SecureJoinVFS(unionRoot, target, u)
	if err != nil {
		return err
	}
	rel, err := u.rel(joined)
	if err != nil {
		return err
	}
	if rel == "/" {
		return errors.New("the path leads to the image's root")
	}
	lowers, err := u.lookup(rel)
	if err != nil {
		return err
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
		c := &volumeCopier{
			ctx:     ctx,
			copier:  copier{links: map[fileID]string{}, root: os.Geteuid() == 0},
			dst:     tmp,
			minFree: volumeMinFree(s.layer.MinFreeBytes),
		}
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
func (s *Snapshotter) imageView(containerDir string, diffIDs []v1.Hash) (unionFS, error) {
	if s.driver == VFS {
		return unionFS{layers: []string{filepath.Join(containerDir, rootfsDir)}}, nil
	}
	var u unionFS
	top := filepath.Join(containerDir, mountpointsDir)
	if _, err := os.Lstat(top); err == nil {
		u.layers = append(u.layers, top)
	}
	for i := len(diffIDs) - 1; i >= 0; i-- {
		if err := validDiffID(diffIDs[i]); err != nil {
			return unionFS{}, err
		}
		u.layers = append(u.layers, s.LayerDir(diffIDs[i]))
	}
	if len(diffIDs) == 0 {
		u.layers = append(u.layers, filepath.Join(containerDir, emptyDir))
	}
	return u, nil
}

// volumeCopier copies a directory of a merged view into a new tree. Every destination path
// is joined below a directory it made itself, and every source entry is read with lstat and
// O_NOFOLLOW: nothing in the image can lead it elsewhere on the host.
//
// The image decides how much it writes: a small layer can hold a sparse file of many GiB or
// millions of names, and each VOLUME (or symlink to one path) copies its tree again. So ctx is
// checked at every entry and every chunk of a file, holes stay holes, and the copy stops with
// layers.ErrLowDiskSpace before the filesystem's free space drops below the floor Apply keeps
// (Options.Layer.MinFreeBytes), as an unpack would.
type volumeCopier struct {
	copier
	ctx       context.Context
	dst       string // the volume's root, whose filesystem check watches
	minFree   int64  // 0: no floor
	written   int64  // bytes of content, and volumeInodeCost per entry, so far
	nextCheck int64  // written value at which check runs again
}

// volumeCheckInterval is how much the copy writes between two checks of ctx and free space,
// as layers checks every 16 MiB; volumeInodeCost is what each entry counts besides its content.
const (
	volumeCheckInterval = 16 << 20
	volumeInodeCost     = 4 << 10
)

// volumeMinFree is layers.Options.MinFreeBytes as Apply reads it: 0 is the default, <0 none.
func volumeMinFree(opt int64) int64 {
	switch {
	case opt == 0:
		return layers.DefaultMinFreeBytes
	case opt < 0:
		return 0
	}
	return opt
}

// check fails when ctx is done or the volume's filesystem has less than minFree bytes (or
// minFree/16 KiB inodes, layers' ratio) available.
func (c *volumeCopier) check() error {
	c.nextCheck = c.written + volumeCheckInterval
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if c.minFree <= 0 {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(c.dst, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: c.dst, Err: err}
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < c.minFree {
		return fmt.Errorf("%w: %d bytes left on the volume's filesystem, want at least %d", layers.ErrLowDiskSpace, free, c.minFree)
	}
	// Files is 0 where inodes are not counted (btrfs).
	if want := c.minFree / (16 << 10); st.Files > 0 && int64(st.Ffree) < want {
		return fmt.Errorf("%w: %d inodes left on the volume's filesystem, want at least %d", layers.ErrLowDiskSpace, st.Ffree, want)
	}
	return nil
}

// count adds n bytes written and checks when another interval has passed.
func (c *volumeCopier) count(n int64) error {
	c.written += n
	if c.written >= c.nextCheck {
		return c.check()
	}
	return nil
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
	if err := c.count(volumeInodeCost); err != nil {
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
	id := fileID{uint64(st.Dev), st.Ino}
	if st.Nlink > 1 {
		// Linked only to the copy's own first path: a link to the layer's file would let the
		// container write into a layer every container shares.
		if first, ok := c.links[id]; ok {
			if err := os.Link(first, d); err != nil {
				return fmt.Errorf("linking %s: %w", d, err)
			}
			return nil
		}
	}
	switch mode {
	case unix.S_IFREG:
		if err := c.copyFile(src, d); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, d); err != nil {
			return err
		}
	default: // devices, fifos, sockets: made, never opened
		if err := unix.Mknod(d, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: d, Err: err}
		}
	}
	if st.Nlink > 1 {
		c.links[id] = d
	}
	return c.meta(src, d, &st)
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

// copyFile copies a regular file's content into a new file, opening neither through a
// symlink nor anything but a regular file (a fifo put in its place would block the open).
// Only the data extents are copied (SEEK_DATA, SEEK_HOLE), in chunks with ctx and free space
// checked between them, and the size is set at the end: a sparse file stays sparse, where a
// plain copy writes out every zero of its holes.
func (c *volumeCopier) copyFile(src, dst string) (err error) {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("copying %s: not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if err := c.copyData(in, out, st.Size()); err != nil {
		return fmt.Errorf("copying %s: %w", dst, err)
	}
	return nil
}

// volumeCopyChunk is the most copyData copies between two looks at ctx.
const volumeCopyChunk = 8 << 20

// copyData copies in's data extents up to size into out at the same offsets, then sets out's
// size. A filesystem without SEEK_DATA sees the whole file as one extent.
func (c *volumeCopier) copyData(in, out *os.File, size int64) error {
	for off := int64(0); off < size; {
		start, err := unix.Seek(int(in.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // a hole up to the end
		}
		if err != nil {
			return fmt.Errorf("seeking data: %w", err)
		}
		end, err := unix.Seek(int(in.Fd()), start, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seeking a hole: %w", err)
		}
		end = min(end, size)
		for start < end {
			if err := c.ctx.Err(); err != nil {
				return err
			}
			n := min(end-start, volumeCopyChunk)
			if _, err := in.Seek(start, io.SeekStart); err != nil {
				return err
			}
			if _, err := out.Seek(start, io.SeekStart); err != nil {
				return err
			}
			// io.CopyN from a file to a file is copy_file_range, reflinked where it can be.
			w, err := io.CopyN(out, in, n)
			start += w
			if err == nil {
				err = c.count(w)
			}
			if errors.Is(err, io.EOF) {
				// The file shrank under the copy; layer dirs do not, but never loop on it.
				return fmt.Errorf("short read at %d of %d bytes", start, size)
			}
			if err != nil {
				return err
			}
		}
		off = end
	}
	return out.Truncate(size)
}
