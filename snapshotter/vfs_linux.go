package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"github.com/strata-run/strata/internal/freespace"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/layers"
)

// Overlay's markers in a layer dir, as layers writes them
// (https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories): a
// whiteout is a character device 0/0; an opaque dir has the xattr overlay.opaque="y" in the
// trusted namespace, or the user namespace for userxattr mounts.
var opaqueXattrs = []string{"trusted.overlay.opaque", "user.overlay.opaque"}

// overlayXattrPrefixes are overlay's private xattrs; they describe the layer dir, not the
// files, and are not copied into a vfs rootfs.
var overlayXattrPrefixes = []string{"trusted.overlay.", "user.overlay."}

// fileID identifies an inode, to copy hard links as hard links.
type fileID struct{ dev, ino uint64 }

// copier applies one layer dir onto a rootfs with overlay's semantics (applyCopy); it also
// holds what every copy of the image's files needs, the vfs rootfs's and a volume's
// (volumeCopier) alike.
//
// The image decides how much a copy writes: a small layer can hold a sparse file of many GiB
// or millions of names. So ctx is checked at every entry and every chunk of a file, holes stay
// holes (copyFile), and the copy stops with layers.ErrLowDiskSpace before the filesystem's free
// space drops below the floor Apply keeps (Options.Layer.MinFreeBytes), as an unpack would.
type copier struct {
	links     map[fileID]string // first copy of each multiply-linked inode of this layer
	root      bool              // running as root: ownership and device nodes must be exact
	ctx       context.Context
	dst       string // the copy's root, whose filesystem check watches
	minFree   int64  // 0: no floor
	scaled    bool   // the default floor: scaled down on a small filesystem (freespace.Floor)
	written   int64  // bytes of content, and copyInodeCost per entry, so far
	nextCheck int64  // written value at which check runs again
}

// newCopier returns a copier into dst that stops when ctx is done or dst's filesystem falls
// below minFree, read as layers.Options.MinFreeBytes: 0 is the default, <0 none.
func newCopier(ctx context.Context, dst string, minFree int64) copier {
	scaled := minFree == 0
	switch {
	case minFree == 0:
		minFree = layers.DefaultMinFreeBytes
	case minFree < 0:
		minFree = 0
	}
	return copier{links: map[fileID]string{}, root: os.Geteuid() == 0, ctx: ctx, dst: dst, minFree: minFree, scaled: scaled}
}

// copyCheckInterval is how much a copy writes between two checks of ctx and free space, as
// layers checks every 16 MiB; copyInodeCost is what each entry counts besides its content.
const (
	copyCheckInterval = 16 << 20
	copyInodeCost     = 4 << 10
)

// check fails when ctx is done or the filesystem has less than minFree bytes (or minFree/16
// KiB inodes, layers' ratio) available.
func (c *copier) check() error {
	c.nextCheck = c.written + copyCheckInterval
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
	floor := c.minFree
	if c.scaled {
		// The default floor, and the interval, scale down on a small filesystem.
		floor = freespace.OfBlocks(st.Blocks, int64(st.Bsize))
		c.nextCheck = c.written + freespace.CheckInterval(floor)
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < floor {
		return fmt.Errorf("%w: %d bytes left on the filesystem, want at least %d", layers.ErrLowDiskSpace, free, floor)
	}
	// Files is 0 where inodes are not counted (btrfs).
	if want := floor / (16 << 10); st.Files > 0 && int64(st.Ffree) < want {
		return fmt.Errorf("%w: %d inodes left on the filesystem, want at least %d", layers.ErrLowDiskSpace, st.Ffree, want)
	}
	return nil
}

// count adds n bytes written and checks when another interval has passed.
func (c *copier) count(n int64) error {
	c.written += n
	if c.written >= c.nextCheck {
		return c.check()
	}
	return nil
}

// applyCopy copies layer dir src onto dst as overlay would show it on top: whiteouts delete,
// opaque dirs hide what dst had, other entries replace what dst had.
//
// Paths in dst are only ever joined below a directory this copy has checked to be a real
// directory (a symlink from a lower layer in its place is replaced, as overlay does), so a
// symlink planted by an earlier layer cannot redirect the copy out of dst.
//
// It stops when ctx is done or dst's filesystem falls below minFree (newCopier).
func applyCopy(ctx context.Context, src, dst string, minFree int64) error {
	c := newCopier(ctx, dst, minFree)
	if err := c.check(); err != nil {
		return err
	}
	if err := c.dir(src, dst); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	return c.meta(src, dst, &st)
}

// dir applies the children of layer dir src onto dst, a real directory.
func (c *copier) dir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	opaque := isOpaque(src)
	for _, e := range entries {
		opaque = opaque || e.Name() == whiteoutOpaque
	}
	if opaque {
		if err := clearDir(dst); err != nil {
			return err
		}
	}
	// Whiteouts kept as .wh. files (layer dirs on a filesystem that refuses overlay's
	// markers) delete from the layers below only, so before this layer's own entries.
	for _, e := range entries {
		if target, ok := keptWhiteout(e.Name()); ok {
			if err := removeAll(filepath.Join(dst, target)); err != nil {
				return fmt.Errorf("applying whiteout: %w", err)
			}
		}
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), whiteoutPrefix) {
			continue
		}
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if err := c.entry(s, d); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) entry(s, d string) error {
	// Every entry: a directory of millions of names must not hold off a Ctrl-C.
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if err := c.count(copyInodeCost); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(s, &st); err != nil {
		return err
	}
	mode := st.Mode & unix.S_IFMT
	if mode == unix.S_IFCHR && st.Rdev == 0 {
		if err := removeAll(d); err != nil {
			return fmt.Errorf("applying whiteout: %w", err)
		}
		return nil
	}
	if mode == unix.S_IFDIR {
		var dst unix.Stat_t
		err := unix.Lstat(d, &dst)
		switch {
		case err == nil && dst.Mode&unix.S_IFMT == unix.S_IFDIR:
			// Merge into the lower's dir.
		case err == nil:
			if err := removeAll(d); err != nil {
				return err
			}
			fallthrough
		case errors.Is(err, unix.ENOENT):
			if err := unix.Mkdir(d, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", d, err)
			}
		default:
			return err
		}
		if err := c.dir(s, d); err != nil {
			return err
		}
		// After the children, so their creation does not bump the dir's mtime again.
		return c.meta(s, d, &st)
	}

	if err := removeAll(d); err != nil {
		return err
	}
	return c.leaf(s, d, &st)
}

// leaf copies the non-directory s, whose lstat is st, to the new path d: a second name of a
// file already copied becomes a link to that copy (never to the source: a link to a layer's
// file would let the container write into a layer every container shares), a regular file is
// copied, a symlink made anew, a device, fifo or socket made and never opened; then its
// owner, mode, times and xattrs as s has them.
func (c *copier) leaf(s, d string, st *unix.Stat_t) error {
	id := fileID{uint64(st.Dev), st.Ino}
	if st.Nlink > 1 {
		if first, ok := c.links[id]; ok {
			if err := os.Link(first, d); err != nil {
				return fmt.Errorf("linking %s: %w", d, err)
			}
			return nil
		}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if err := c.copyFile(s, d); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(s)
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
	return c.meta(s, d, st)
}

// copyFile copies a regular file's content into a new file, opening neither through a
// symlink nor anything but a regular file (a fifo put in its place would block the open).
// Only the data extents are copied (SEEK_DATA, SEEK_HOLE), in chunks with ctx and free space
// checked between them, and the size is set at the end: a sparse file stays sparse, where a
// plain copy writes out every zero of its holes.
func (c *copier) copyFile(src, dst string) (err error) {
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

// copyChunk is the most copyData copies between two looks at ctx.
const copyChunk = 8 << 20

// copyData copies in's data extents up to size into out at the same offsets, then sets out's
// size. A filesystem without SEEK_DATA sees the whole file as one extent.
func (c *copier) copyData(in, out *os.File, size int64) error {
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
			n := min(end-start, copyChunk)
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

// meta copies ownership, mode, xattrs and times, in that order: chown clears setuid bits and
// file capabilities, and every change bumps ctime but the times are set last.
func (c *copier) meta(s, d string, st *unix.Stat_t) error {
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := unix.Lchown(d, int(st.Uid), int(st.Gid)); err != nil && (c.root || !errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("chown %s: %w", d, err)
	}
	if !isLink {
		if err := unix.Chmod(d, st.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", d, err)
		}
	}
	if err := copyXattrs(s, d); err != nil {
		return err
	}
	if err := dropXattrs(s, d); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, d, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times on %s: %w", d, err)
	}
	return nil
}

// copyXattrs copies every xattr but overlay's own. A filesystem without xattrs, or a
// namespace the destination refuses (user.* on a symlink), is skipped, as cp -a does.
func copyXattrs(s, d string) error {
	names, err := listXattrs(s)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return fmt.Errorf("listing xattrs of %s: %w", s, err)
	}
	for _, name := range names {
		if hasAnyPrefix(name, overlayXattrPrefixes) {
			continue
		}
		val, err := getXattr(s, name)
		if err != nil {
			return fmt.Errorf("reading xattr %s of %s: %w", name, s, err)
		}
		if err := unix.Lsetxattr(d, name, val, 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
				continue
			}
			return fmt.Errorf("setting xattr %s on %s: %w", name, d, err)
		}
	}
	return nil
}

// dropXattrs removes from d the xattrs an image sets that s lacks: overlay shows the topmost
// copy of a directory with its xattrs alone, so a directory merged into a lower layer's copy
// must not keep the lower's (a user.* value, a default ACL the upper layer dropped), nor a
// new file or directory the ACLs it inherited from its parent's default ACL. The host's MAC
// labels (security.selinux and the like), which the kernel gives every new inode and no layer
// sets, stay.
func dropXattrs(s, d string) error {
	names, err := listXattrs(d)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return fmt.Errorf("listing xattrs of %s: %w", d, err)
	}
	for _, name := range names {
		if strings.HasPrefix(name, "security.") && !slices.Contains(imageSecurityXattrs, name) {
			continue
		}
		if _, err := unix.Lgetxattr(s, name, nil); !errors.Is(err, unix.ENODATA) {
			continue
		}
		err := unix.Lremovexattr(d, name)
		if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("removing xattr %s of %s: %w", name, d, err)
		}
	}
	return nil
}

// imageSecurityXattrs are the security.* xattrs a layer sets (layers.Apply keeps them); the
// other security.* names are the host's labels.
var imageSecurityXattrs = []string{"security.capability", "security.ima", "security.evm"}

func listXattrs(p string) ([]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size == 0 {
		return nil, err
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name != "" {
			names = append(names, name)
		}
	}
	return names, nil
}

func getXattr(p, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isOpaque reports whether a layer dir entry is an opaque dir.
func isOpaque(dir string) bool {
	buf := make([]byte, 8)
	for _, name := range opaqueXattrs {
		n, err := unix.Lgetxattr(dir, name, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// clearDir removes everything in dir, keeping dir.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := removeAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
