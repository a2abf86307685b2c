package layers

import (
	"context"
	"fmt"

	"github.com/strata-run/strata/internal/rmtree"
	"golang.org/x/sys/unix"
)

// A whiteout in an opaque directory of a layer dir, or anywhere below one, hides nothing the
// opaque directory does not hide already, and overlayfs does not expect one there: such a
// directory merges with nothing of the layers below, so overlayfs lists it as it is, and the
// whiteout shows in the container as a name that cannot be looked up ("c?????????" in ls,
// ENOENT from stat, a find or an rm -r that fails). Overlay itself never writes a layer so,
// but a tar can say it, and Apply itself makes directories opaque that the tar's whiteouts
// are in: ".wh.d" after "d/x" and "d/.wh.y" (the layer's own d stays, opaque), or ".wh.d"
// then "d/e/.wh.y". So once a layer made both, finish removes every whiteout below an opaque
// directory. The walk reads each directory once, with two handles open at most (down by name,
// up by ".."), with rmtree's moves and reader as its removal has. It is not rmtree's walk: it
// keeps the tree, removing only whiteouts, and each directory's walk depends on whether one
// above it is opaque. The whiteouts of a directory are removed once it is read to its end, not
// as each chunk is: unlinking while reading may make a filesystem skip an entry, and a
// whiteout left there is the very fault this removes.

// dropSealedWhiteouts removes the whiteouts (0/0 character devices) that are in an opaque
// directory of the layer dir or below one.
func (x *extractor) dropSealedWhiteouts(ctx context.Context) error {
	fd, err := unix.Openat(x.root.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	type level struct {
		sealed  bool     // the directory or one above it is opaque
		subdirs []string // left to visit
	}
	buf := *x.buf
	sealed := isOpaqueDir(fd)
	subdirs, err := dropWhiteoutsIn(fd, buf, sealed)
	stack := []level{{sealed, subdirs}}
	for err == nil && len(stack) > 0 {
		if err = ctx.Err(); err != nil {
			break
		}
		top := &stack[len(stack)-1]
		if n := len(top.subdirs); n > 0 {
			sub := top.subdirs[n-1]
			top.subdirs = top.subdirs[:n-1]
			next, oerr := rmtree.Down(fd, sub)
			if oerr != nil {
				err = fmt.Errorf("opening %s: %w", display(sub), oerr)
				break
			}
			fd = next
			s := top.sealed || isOpaqueDir(fd)
			if subdirs, err = dropWhiteoutsIn(fd, buf, s); err == nil {
				stack = append(stack, level{s, subdirs})
			}
			continue
		}
		stack = stack[:len(stack)-1]
		if len(stack) == 0 {
			break
		}
		up, uerr := rmtree.Up(fd)
		if uerr != nil {
			err = uerr
			break
		}
		fd = up
	}
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("removing whiteouts below opaque directories: %w", err)
	}
	return nil
}

// dropWhiteoutsIn reads the directory fd, just opened, removes its whiteouts when sealed, and
// returns the names of its subdirectories.
func dropWhiteoutsIn(fd int, buf []byte, sealed bool) ([]string, error) {
	var subdirs, chars []string
	err := rmtree.ReadEntries(fd, buf, func(s string, typ uint8) error {
		switch typ {
		case unix.DT_DIR:
			subdirs = append(subdirs, s)
		case unix.DT_CHR:
			chars = append(chars, s)
		case unix.DT_UNKNOWN:
			var st unix.Stat_t
			if unix.Fstatat(fd, s, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				switch st.Mode & unix.S_IFMT {
				case unix.S_IFDIR:
					subdirs = append(subdirs, s)
				case unix.S_IFCHR:
					chars = append(chars, s)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sealed {
		for _, name := range chars {
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				continue
			}
			if err := unix.Unlinkat(fd, name, 0); err != nil && err != unix.ENOENT {
				return nil, fmt.Errorf("removing whiteout %s: %w", display(name), err)
			}
		}
	}
	return subdirs, nil
}

// isOpaqueDir reports whether the directory fd is marked opaque, in either namespace.
func isOpaqueDir(fd int) bool {
	var v [1]byte
	for _, name := range []string{overlayOpaqueTrusted, overlayOpaqueUser} {
		if n, err := unix.Fgetxattr(fd, name, v[:]); err == nil && n == 1 && v[0] == 'y' {
			return true
		}
	}
	return false
}
