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
	// cacheLen is the length of the kernel's name for cacheFD (what checkPathLen measured),
	// and rootLen that of the layer dir's; -1 where it cannot be told.
	cacheLen, rootLen int
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
	// lookups counts the names resolved from the root and the handles' names read, which
	// cost a walk of the path each: tests bound them per entry.
	lookups int
}

func openRoot(dir string) (*root, error) {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening layer dir: %w", err)
	}
	r := &root{fd: int(f.Fd()), file: f, cacheFD: -1, cacheLen: -1, rootLen: -1}
	if n, err := r.pathLen(r.fd); err == nil {
		r.rootLen = n
	}
	return r, nil
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
	r.cacheLen = -1
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
	// mkdirAll has checked the length of the handle's name: it checks the deepest directory
	// that exists with the bytes of path it creates below it.
	fd, n, err := r.mkdirAll(dir)
	if err != nil {
		return -1, err
	}
	r.invalidate()
	r.cacheName, r.cacheFD, r.cacheLen = dir, fd, n
	return fd, nil
}

// adopt makes fd, a handle of the directory base that the caller has just opened with
// O_NOFOLLOW in pfd, the handle parent returns for name, the clean relative name of base in
// pfd's, when pfd is the root's or parent's handle: a directory entry is followed by its own
// entries, and resolving its name again (openat2, and a readlink for checkPathLen) cost as
// much as making it. name leads to the directory fd through pfd's resolution, which the cache
// holds until a removal invalidates it, as it would after resolving name. It reports whether it
// took fd; the caller closes it otherwise. The length of fd's name is pfd's plus base's: when
// it is too long for a directory taking entries, or pfd's is not known, fd is not taken and
// parent resolves and checks name as it did.
func (r *root) adopt(pfd int, name, base string, fd int) bool {
	n := -1
	switch {
	case pfd == r.fd:
		n = r.rootLen
	case pfd == r.cacheFD && r.cacheFD >= 0:
		n = r.cacheLen
	}
	if n <= 0 {
		return false
	}
	if n > 1 { // not "/"
		n++
	}
	n += len(base)
	if n > maxParentLen {
		return false
	}
	r.invalidate()
	r.cacheName, r.cacheFD, r.cacheLen = name, fd, n
	return true
}

// mkdirAll resolves dir in the root, creating what is missing, and returns an O_PATH handle the
// caller owns, checked by checkPathLen, and the length of its name (-1 where it cannot be
// told).
func (r *root) mkdirAll(dir string) (int, int, error) {
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
			return -1, -1, fmt.Errorf("opening parent %s: %w", display(dir[:end]), err)
		}
		i := strings.LastIndexByte(dir[:end], '/')
		if i < 0 {
			if cur, err = r.openDir(""); err != nil {
				return -1, -1, err
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
	n, err := r.checkPathLen(cur, dir, extra)
	if err != nil {
		unix.Close(cur)
		return -1, -1, err
	}
	// Create the rest downwards. A name that appears meanwhile, or exists as a dangling symlink,
	// is resolved in the root again, so a symlink never leads out; the handle's name is then
	// measured again at the end, as it may lead elsewhere.
	again := false
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
			return -1, -1, fmt.Errorf("creating parent %s: %w", display(dir[:end]), err)
		}
		var next int
		if err == nil {
			r.made++
			// Not mkdirat's mode alone, which the umask of whoever runs strata cuts:
			// under umask 077 the layer, which every container of the image shares,
			// held parents only root could enter, where docker makes them 0755.
			if err = unix.Fchmodat(cur, name, 0o755, 0); err != nil {
				unix.Close(cur)
				return -1, -1, fmt.Errorf("creating parent %s: %w", display(dir[:end]), err)
			}
			next, err = unix.Openat(cur, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil && r.onMkdir != nil {
				r.onMkdir(next)
			}
		} else {
			next, err = r.openDir(dir[:end])
			again = true
		}
		unix.Close(cur)
		if err != nil {
			return -1, -1, fmt.Errorf("opening parent %s: %w", display(dir[:end]), err)
		}
		cur = next
	}
	if again {
		if n, err = r.checkPathLen(cur, dir, 0); err != nil {
			unix.Close(cur)
			return -1, -1, err
		}
	}
	return cur, n, nil
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
// skipped: nothing else can name a directory handle. It returns the length of the name the
// directory will have, -1 without /proc.
func (r *root) checkPathLen(fd int, dir string, extra int) (int, error) {
	n, err := r.pathLen(fd)
	switch err {
	case nil:
	case unix.ENAMETOOLONG:
		n = unix.PathMax
	case unix.ENOENT:
		return -1, nil
	default:
		return -1, fmt.Errorf("naming parent %s: %w", display(dir), err)
	}
	if n+extra > maxParentLen {
		return -1, fmt.Errorf("parent %s would be nested deeper than a path can name (%d bytes): %w", display(dir), maxParentLen, unix.ENAMETOOLONG)
	}
	return n + extra, nil
}

// pathLen is the length of the kernel's name for the handle fd: ENAMETOOLONG when it is
// PATH_MAX or more, ENOENT without /proc.
func (r *root) pathLen(fd int) (int, error) {
	r.lookups++
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf[:])
	if err != nil {
		return -1, err
	}
	if n >= len(buf) {
		return -1, unix.ENAMETOOLONG
	}
	return n, nil
}

// openDir resolves the clean relative name dir as a directory inside the root, following
// symlinks as if the root were "/", and returns an O_PATH handle the caller owns.
func (r *root) openDir(dir string) (int, error) {
	if dir == "" {
		return unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	}
	r.lookups++
	if fd, ok, err := r.openat2InRoot(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC); ok {
		return fd, err
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

// openat2InRoot opens name with flags by one openat2 resolved inside the root, ok false when
// the kernel has no openat2 (noOpenat2 is set then, and the caller walks in userspace).
func (r *root) openat2InRoot(name string, flags uint64) (fd int, ok bool, err error) {
	if noOpenat2.Load() {
		return -1, false, nil
	}
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 16 {
		fd, err := unix.Openat2(r.fd, name, &how)
		switch err {
		case unix.EAGAIN, unix.EINTR:
			// The kernel saw a concurrent rename while resolving ".."; try again.
			continue
		case unix.ENOSYS:
			noOpenat2.Store(true)
			return -1, false, nil
		}
		return fd, true, err
	}
	return -1, true, unix.EAGAIN
}

// openDirNoFollow opens the clean relative name, not "", as a directory for reading, inside the
// root as openDir resolves it, but never through a symlink in its last component: ELOOP or
// ENOTDIR there. One openat2 where openat2 exists, and openDir's userspace walk for the parent
// where it does not.
func (r *root) openDirNoFollow(name string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !noOpenat2.Load() {
		r.lookups++
		if fd, ok, err := r.openat2InRoot(name, flags); ok {
			return fd, err
		}
	}
	dir, base := splitName(name)
	pfd, err := r.openDir(dir)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	return unix.Openat(pfd, base, flags, 0)
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
