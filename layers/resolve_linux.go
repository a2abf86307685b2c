package layers

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/strata-run/strata/internal/rmtree"
	"golang.org/x/sys/unix"
)

// noOpenat2 is set once openat2 returned ENOSYS (kernels before 5.6, or a seccomp profile that
// hides it); resolution then goes through filepath-securejoin's userspace walk. Tests set it to
// run the same cases through the fallback.
var noOpenat2 atomic.Bool

// root is the layer dir as an O_PATH handle, plus a one-entry cache of the last parent directory
// resolved: tars list a directory's entries together, so most entries share their parent.
type root struct {
	fd   int
	file *os.File // the same directory, for the securejoin fallback

	cacheName string
	cacheFD   int // -1 when empty
	// made counts the directories mkdirAll created, for the free-space accounting.
	made int
	// opaque is the xattr that marks an opaque directory, "" where whiteouts are kept as
	// files: mkdirAll makes a missing parent over a whiteout of this layer opaque.
	opaque string
	// madeOpaque is set once mkdirAll made an opaque directory.
	madeOpaque bool
	// onMkdir, if set, is called with each directory mkdirAll makes (the handle stays the
	// caller's): the extractor forgets the metadata of a removed directory whose inode it
	// took.
	onMkdir func(fd int)
	// stale holds invalidated handles until the next lookup: the entry being applied still
	// creates in the parent it resolved, even after it removed something there.
	stale []int
}

func openRoot(dir string) (*root, error) {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening layer dir: %w", err)
	}
	return &root{fd: int(f.Fd()), file: f, cacheFD: -1}, nil
}

func (r *root) close() error {
	r.invalidate()
	r.closeStale()
	return r.file.Close()
}

// invalidate forgets the cached parent. Anything that removes a path calls it: the removed
// path may be (or lead through a symlink to) the cached directory. The handle stays open until
// the next parent call, because the caller may still be using it.
func (r *root) invalidate() {
	if r.cacheFD >= 0 {
		r.stale = append(r.stale, r.cacheFD)
	}
	r.cacheFD = -1
	r.cacheName = ""
}

func (r *root) closeStale() {
	for _, fd := range r.stale {
		unix.Close(fd)
	}
	r.stale = r.stale[:0]
}

// parent returns a directory handle for the clean relative name dir, creating missing
// directories (0755, as docker does for parents a tar leaves out). The handle belongs to the
// cache: the caller must not close it, and it stays valid until the next parent or invalidate.
func (r *root) parent(dir string) (int, error) {
	r.closeStale()
	if dir == "" {
		return r.fd, nil
	}
	if r.cacheFD >= 0 && r.cacheName == dir {
		return r.cacheFD, nil
	}
	fd, err := r.mkdirAll(dir)
	if err != nil {
		return -1, err
	}
	if err := checkPathLen(fd, dir, 0); err != nil {
		unix.Close(fd)
		return -1, err
	}
	r.invalidate()
	r.cacheName, r.cacheFD = dir, fd
	return fd, nil
}

// mkdirAll resolves dir in the root, creating what is missing, and returns an O_PATH handle the
// caller owns.
func (r *root) mkdirAll(dir string) (int, error) {
	// Find the deepest prefix that exists, from the end: usually only the last component is
	// missing, so this costs two lookups, not one per component.
	end := len(dir)
	cur := -1
	for {
		fd, err := r.openDir(dir[:end])
		if err == nil {
			cur = fd
			break
		}
		// ENOTDIR: something on the way is not a directory; a whiteout there is replaced
		// below, anything else fails there.
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			return -1, fmt.Errorf("opening parent %s: %w", display(dir[:end]), err)
		}
		i := strings.LastIndexByte(dir[:end], '/')
		if i < 0 {
			if cur, err = r.openDir(""); err != nil {
				return -1, err
			}
			end = 0
			break
		}
		end = i
	}
	// What is created below cur must stay nameable; the check comes first so that nothing too
	// deep is left behind for the caller to remove.
	extra := len(dir) - end
	if end == 0 {
		extra++ // the "/" before the first component
	}
	if err := checkPathLen(cur, dir, extra); err != nil {
		unix.Close(cur)
		return -1, err
	}
	// Create the rest downwards. A name that appears meanwhile, or exists as a dangling symlink,
	// is resolved in the root again, so a symlink never leads out.
	for end < len(dir) {
		start := end
		if dir[start] == '/' {
			start++
		}
		end = strings.IndexByte(dir[start:], '/')
		if end < 0 {
			end = len(dir)
		} else {
			end += start
		}
		name := dir[start:end]
		err := unix.Mkdirat(cur, name, 0o755)
		if err == unix.EEXIST && r.opaque != "" {
			err = r.replaceWhiteout(cur, name)
		}
		if err != nil && err != unix.EEXIST {
			unix.Close(cur)
			return -1, fmt.Errorf("creating parent %s: %w", display(dir[:end]), err)
		}
		var next int
		if err == nil {
			r.made++
			// Not mkdirat's mode alone, which the umask of whoever runs strata cuts:
			// under umask 077 the layer, which every container of the image shares,
			// held parents only root could enter, where docker makes them 0755.
			if err = unix.Fchmodat(cur, name, 0o755, 0); err != nil {
				unix.Close(cur)
				return -1, fmt.Errorf("creating parent %s: %w", display(dir[:end]), err)
			}
			next, err = unix.Openat(cur, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil && r.onMkdir != nil {
				r.onMkdir(next)
			}
		} else {
			next, err = r.openDir(dir[:end])
		}
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("opening parent %s: %w", display(dir[:end]), err)
		}
		cur = next
	}
	return cur, nil
}

// replaceWhiteout makes name in the directory fd an opaque directory if it is a whiteout (a
// 0/0 character device), and returns EEXIST for anything else there. A layer that deletes a
// directory (".wh.d") and then has entries below it without a "d/" of its own ("d/x") makes
// the directory again, with nothing of the layers below: overlayfs does the same for a mkdir
// over a whiteout.
func (r *root) replaceWhiteout(fd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		return unix.EEXIST
	}
	if err := unix.Unlinkat(fd, name, 0); err != nil {
		return err
	}
	if err := unix.Mkdirat(fd, name, 0o755); err != nil {
		return err
	}
	dfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	r.madeOpaque = true
	if err := unix.Fsetxattr(dfd, r.opaque, []byte("y"), 0); err != nil {
		return fmt.Errorf("marking opaque: %w", err)
	}
	return nil
}

// maxParentLen bounds the path, as the kernel names it, of a directory that takes entries: a
// child's name (NAME_MAX bytes at most) must still fit in PATH_MAX. Without it, symlinks a layer
// plants let each entry nest directories up to 4 KiB of path deeper than the last, and a tree no
// path can name defeats every later walk over it (du, find, the snapshotter's prune), while
// os.RemoveAll runs out of file descriptors on it.
const maxParentLen = unix.PathMax - 1 - len("/") - 255

// checkPathLen fails when the directory fd, with extra bytes of path still to be created below
// it, would be longer than maxParentLen. dir names it in the error. Without /proc the check is
// skipped: nothing else can name a directory handle.
func checkPathLen(fd int, dir string, extra int) error {
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	switch err {
	case nil:
	case unix.ENAMETOOLONG:
		n = len(buf)
	case unix.ENOENT:
		return nil
	default:
		return fmt.Errorf("naming parent %s: %w", display(dir), err)
	}
	if n+extra > maxParentLen {
		return fmt.Errorf("parent %s would be nested deeper than a path can name (%d bytes): %w", display(dir), maxParentLen, unix.ENAMETOOLONG)
	}
	return nil
}

// openDir resolves the clean relative name dir as a directory inside the root, following
// symlinks as if the root were "/", and returns an O_PATH handle the caller owns.
func (r *root) openDir(dir string) (int, error) {
	if dir == "" {
		return unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	}
	if !noOpenat2.Load() {
		how := unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		for range 16 {
			fd, err := unix.Openat2(r.fd, dir, &how)
			switch err {
			case unix.EAGAIN, unix.EINTR:
				// The kernel saw a concurrent rename while resolving ".."; try again.
				continue
			case unix.ENOSYS:
				noOpenat2.Store(true)
			default:
				return fd, err
			}
			break
		}
		if !noOpenat2.Load() {
			return -1, unix.EAGAIN
		}
	}
	h, err := pathrs.OpenatInRoot(r.file, dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return -1, err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return -1, unix.ENOTDIR
	}
	return unix.FcntlInt(h.Fd(), unix.F_DUPFD_CLOEXEC, 0)
}

// removeAt removes base in the directory pfd, recursively when it is a directory. It never
// follows a symlink: unlinkat removes the link itself, and directories are opened O_NOFOLLOW.
//
// The tree goes with rmtree, two directory handles open at most however deep it is: one
// handle per level ran out of them (a limit of 1,024 open files, 1,900 levels within
// PATH_MAX), where docker removes it. Going back up by ".." is sound in a layer dir, where
// nothing else renames. It takes no context: what it removes is this apply's own entries, each
// of which the apply read and checked for cancellation as it made it.
func (r *root) removeAt(pfd int, base string) error {
	r.invalidate()
	if err := rmtree.RemoveAt(pfd, base); err != nil {
		return fmt.Errorf("removing %s: %w", display(base), err)
	}
	return nil
}
