package rmtree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// bufPool holds the buffers RemoveAt reads directories into, 32 KiB each.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// maxPasses bounds how many times a directory found not empty once all that was read of it is
// removed is read and cleared again. A filesystem may skip entries of a directory that is
// changed while it is read (POSIX leaves it unspecified), which one more pass finds; a
// directory that someone keeps filling fails with ENOTEMPTY after these.
const maxPasses = 4

// Remove removes path and, when it is a directory, everything in it (see RemoveAt).
func Remove(path string) error { return RemoveAt(unix.AT_FDCWD, path) }

// RemoveAt removes name in the directory dirfd and, when it is a directory, everything in it,
// however deep. A symlink, at name or anywhere below, is removed itself, never followed.
//
// An entry that is already gone, name included, is no error: what the caller asks is that the
// name be gone, and a removal racing with another one (two prunes of one tree) would otherwise
// fail halfway and leave a half-removed tree for the next caller, who then succeeds anyway.
// An error that comes from below name says how many levels down it happened.
func RemoveAt(dirfd int, name string) error { return removeAt(dirfd, name, openDir) }

// RemoveAtSameMount is RemoveAt that never goes into another mount: a directory, name or one
// below it, that is a mount point (a host dir bound into a container's dir) is not entered,
// and the removal stops there with an error that wraps unix.EXDEV. What is under a mount is
// not the tree's, and RemoveAt deleted it through the mount. Without openat2 (Linux before
// 5.6, or a seccomp filter that refuses it) it is RemoveAt.
func RemoveAtSameMount(dirfd int, name string) error { return removeAt(dirfd, name, openDirSameMount) }

// openDir opens the subdirectory name of fd, never through a symlink.
func openDir(fd int, name string) (int, error) { return unix.Openat(fd, name, dirFlags, 0) }

// openDirSameMount is openDir that fails with a *MountPointError where name is a mount point.
func openDirSameMount(fd int, name string) (int, error) {
	how := unix.OpenHow{Flags: dirFlags, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for try := 0; ; try++ {
		next, err := unix.Openat2(fd, name, &how)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN && try < 10: // EAGAIN: a rename racing it
			continue
		case err == unix.ENOSYS || err == unix.EPERM: // no openat2, or a seccomp filter's answer
			return openDir(fd, name)
		case err == unix.EXDEV:
			return -1, &MountPointError{Name: name}
		}
		return next, err
	}
}

// MountPointError is RemoveAtSameMount's for a directory it found a mount point: Name, in
// its parent. It is unix.EXDEV.
type MountPointError struct{ Name string }

func (e *MountPointError) Error() string { return e.Name + " is a mount point" }
func (e *MountPointError) Unwrap() error { return unix.EXDEV }

func removeAt(dirfd int, name string, open func(int, string) (int, error)) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err != unix.EISDIR && err != unix.EPERM { // EPERM: some filesystems' answer for a directory
		return ignoreGone(err)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for pass := 0; ; pass++ {
		fd, oerr := open(dirfd, name)
		switch oerr {
		case nil:
		case unix.ENOTDIR, unix.ELOOP:
			// Not a directory (any more): unlink it again, and its answer stands.
			return ignoreGone(unix.Unlinkat(dirfd, name, 0))
		default:
			return ignoreGone(oerr)
		}
		if err := clearTree(fd, *bp, open); err != nil {
			return err
		}
		err := ignoreGone(unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR))
		if !notEmpty(err) || pass == maxPasses {
			return err
		}
	}
}

// level is a directory on the path from the one clearTree was given down to the current one.
type level struct {
	name    string   // in its parent
	subdirs []string // still to remove
	pass    int      // how many times it was cleared before
	// retry is a subdirectory pushed back on subdirs because it was not empty when it was
	// to be removed, retryPass its pass then.
	retry     string
	retryPass int
}

// clearTree removes everything in the directory fd, which it closes, opening subdirectories
// with open. It holds two handles at most.
func clearTree(fd int, buf []byte, open func(int, string) (int, error)) error {
	subdirs, err := clearFiles(fd, buf)
	stack := []level{{subdirs: subdirs}}
	for err == nil {
		top := &stack[len(stack)-1]
		if n := len(top.subdirs); n > 0 {
			sub := top.subdirs[n-1]
			top.subdirs = top.subdirs[:n-1]
			pass := 0
			if sub == top.retry {
				pass, top.retry = top.retryPass, ""
			}
			next, oerr := open(fd, sub)
			if oerr == nil {
				unix.Close(fd) // as Down
			}
			switch oerr {
			case nil:
			case unix.ENOTDIR, unix.ELOOP: // replaced by a non-directory since it was read
				err = ignoreGone(unix.Unlinkat(fd, sub, 0))
				continue
			default:
				err = ignoreGone(oerr)
				continue
			}
			fd = next
			subdirs, err = clearFiles(fd, buf)
			stack = append(stack, level{name: sub, subdirs: subdirs, pass: pass})
			continue
		}
		if len(stack) == 1 {
			break // everything read of fd is removed
		}
		up, uerr := Up(fd)
		if uerr != nil {
			err = uerr
			break
		}
		fd = up
		done := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		err = ignoreGone(unix.Unlinkat(fd, done.name, unix.AT_REMOVEDIR))
		if notEmpty(err) && done.pass < maxPasses {
			parent := &stack[len(stack)-1]
			parent.subdirs = append(parent.subdirs, done.name)
			parent.retry, parent.retryPass = done.name, done.pass+1
			err = nil
		}
	}
	unix.Close(fd)
	if err != nil && len(stack) > 1 {
		return fmt.Errorf("%d levels down: %w", len(stack)-1, err)
	}
	return err
}

// Down opens the subdirectory name of the directory fd, never following a symlink, and closes
// fd: a walk that moves its one handle so holds two at most. On failure fd stays open.
func Down(fd int, name string) (int, error) {
	next, err := openDir(fd, name)
	if err == nil {
		unix.Close(fd)
	}
	return next, err
}

// Up opens the parent of the directory fd by "..", and closes fd; on failure fd stays open.
// It leads back where Down came from as long as nothing renames the directories between.
func Up(fd int) (int, error) {
	up, err := unix.Openat(fd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return up, err
}

// clearFiles reads the directory fd, just opened, unlinks each entry that is no directory as
// its chunk is read, and returns the names of the subdirectories.
func clearFiles(fd int, buf []byte) ([]string, error) {
	var subdirs []string
	err := ReadEntries(fd, buf, func(name string, typ uint8) error {
		if typ == unix.DT_DIR {
			subdirs = append(subdirs, name)
			return nil
		}
		err := unix.Unlinkat(fd, name, 0)
		if err == unix.EISDIR || err == unix.EPERM { // a directory the filesystem gave no type
			var st unix.Stat_t
			switch serr := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); {
			case serr == unix.ENOENT:
				return nil
			case serr == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
				subdirs = append(subdirs, name)
				return nil
			}
		}
		return ignoreGone(err)
	})
	if err == unix.ENOENT {
		// getdents's answer in a directory that was removed since it was opened: a removal
		// of the same tree racing this one emptied and removed it, subdirectories included.
		return nil, nil
	}
	return subdirs, err
}

// ReadEntries reads the directory fd from its offset to its end, a getdents chunk of buf at a
// time, and calls fn with each entry's name and type (a DT_ constant; DT_UNKNOWN where the
// filesystem does not say), "." and ".." left out. fn may unlink the entry it is given. buf is
// the caller's to reuse across directories; it must hold the longest entry (some 280 bytes).
func ReadEntries(fd int, buf []byte, fn func(name string, typ uint8) error) error {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		for b := buf[:n]; len(b) > 0; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name NUL-terminated.
			reclen := 0
			if len(b) >= 19 {
				reclen = int(binary.NativeEndian.Uint16(b[16:18]))
			}
			if reclen < 19 || reclen > len(b) {
				return fmt.Errorf("reading a directory: bad record of %d bytes", reclen)
			}
			typ, name := b[18], b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if len(name) == 0 || name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.') {
				continue
			}
			if err := fn(string(name), typ); err != nil {
				return err
			}
		}
	}
}

func ignoreGone(err error) error {
	if err == unix.ENOENT {
		return nil
	}
	return err
}

func notEmpty(err error) bool { return err == unix.ENOTEMPTY || err == unix.EEXIST }
