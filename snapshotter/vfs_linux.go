package snapshotter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
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

// copier applies one layer dir onto a rootfs with overlay's semantics.
type copier struct {
	links map[fileID]string // first copy of each multiply-linked inode of this layer
	root  bool              // running as root: ownership and device nodes must be exact
}

// applyCopy copies layer dir src onto dst as overlay would show it on top: whiteouts delete,
// opaque dirs hide what dst had, other entries replace what dst had.
//
// Paths in dst are only ever joined below a directory this copy has checked to be a real
// directory (a symlink from a lower layer in its place is replaced, as overlay does), so a
// symlink planted by an earlier layer cannot redirect the copy out of dst.
func applyCopy(src, dst string) error {
	c := &copier{links: map[fileID]string{}, root: os.Geteuid() == 0}
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
			if err := os.RemoveAll(filepath.Join(dst, target)); err != nil {
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
	var st unix.Stat_t
	if err := unix.Lstat(s, &st); err != nil {
		return err
	}
	mode := st.Mode & unix.S_IFMT
	if mode == unix.S_IFCHR && st.Rdev == 0 {
		if err := os.RemoveAll(d); err != nil {
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
			if err := os.RemoveAll(d); err != nil {
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

	if err := os.RemoveAll(d); err != nil {
		return err
	}
	id := fileID{uint64(st.Dev), st.Ino}
	if st.Nlink > 1 {
		if first, ok := c.links[id]; ok {
			if err := os.Link(first, d); err != nil {
				return fmt.Errorf("linking %s: %w", d, err)
			}
			return nil
		}
	}
	switch mode {
	case unix.S_IFREG:
		if err := copyFile(s, d); err != nil {
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
	default: // devices, fifos, sockets
		if err := unix.Mknod(d, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if st.Nlink > 1 {
		c.links[id] = d
	}
	return c.meta(s, d, &st)
}

// copyFile copies a regular file's content; io.Copy between files uses copy_file_range, which
// reflinks on filesystems that can.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copying %s: %w", dst, err)
	}
	return nil
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
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
