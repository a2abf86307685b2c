package runner

import (
	"fmt"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// FilesystemDirs returns where c's filesystem is: its writable layer (overlay's upperdir; ""
// for a --read-only container) or, on the vfs storage driver, its whole copy (bind). Both
// must be in the container's own dir: a config.json edited to name a host path is refused.
// (Commit and export, which write them as tars, are runner/fstar's: the tar and compression
// code stays out of runner, which the container's init links.)
func (c *Container) FilesystemDirs() (upper, copy string, err error) {
	for _, m := range c.Config.Spec.Root {
		switch m.Type {
		case "overlay":
			_, upper, _ = m.OverlayDirs()
		case "bind":
			if filepath.Clean(m.Target) == "/" {
				copy = m.Source
			}
		}
	}
	for _, d := range []string{upper, copy} {
		if d != "" && !inDir(d, c.Dir) {
			return "", "", fmt.Errorf("container %s: its filesystem %s is not in the container's dir", shortID(c.ID), d)
		}
	}
	return upper, copy, nil
}

// OverlayUserXattr reports whether c's root overlay is mounted with userxattr: overlayfs then
// keeps its marks (opaque dirs, redirects, metacopy) in user.overlay.*, else in
// trusted.overlay.*. Readers of its layers look in that namespace only: in the other a
// process in the container can set what it likes.
func (c *Container) OverlayUserXattr() bool {
	for _, m := range c.Config.Spec.Root {
		if m.Type == "overlay" && slices.Contains(m.Options, "userxattr") {
			return true
		}
	}
	return false
}

// IsInitMountpoint reports whether name (from the root: "/dev"), in the writable layer upper,
// is a mount point the init made because the image lacks it (st its lstat): an empty dir or
// file at one of hiddenMountpoints. diff leaves them out, and commit does.
func IsInitMountpoint(upper, name string, st *unix.Stat_t) bool {
	if !hiddenMountpoints[name] {
		return false
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return isEmptyDir(upper + name)
	case unix.S_IFREG:
		return st.Size == 0
	}
	return false
}
