package snapshotter

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/strata-run/strata/internal/rmtree"
	"golang.org/x/sys/unix"
)

// sizeOpenMax is how many directory handles below its root a size walk keeps open: those of
// the deepest levels it is in. A level above them is left by its handle and gone back to by
// "..", checked to be the same directory (device and inode) as when it was left.
var sizeOpenMax = 32

// sizeWalkHook, when set (by tests), is called with the names from the root down of each
// directory a size walk enters, once the directory is read.
var sizeWalkHook func(names []string)

// errMovedAway is a size walk's answer for a directory of the tree that was moved while the
// walk was below it, so that the walk cannot go back to it.
var errMovedAway = errors.New("moved while it was measured")

// sizeBufPool holds the buffers size walks read directories into, 32 KiB each.
var sizeBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

const sizeDirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// sizeLevel is a directory on the path from a size walk's root down to where the walk is.
type sizeLevel struct {
	fd       int    // -1 when left open no more (more than sizeOpenMax levels up)
	name     string // in its parent
	dev, ino uint64 // set when fd is closed, to check ".." on the way back
	subdirs  []string
}

// treeSize measures a tree as FilesSize (files) or DirSize.
type treeSize struct {
	root  string
	files bool
	total int64
	seen  map[fileID]bool
	buf   []byte
	stack []sizeLevel
}

// measureTree walks the tree at dir by directory handles, each directory opened relative to
// its parent's with O_NOFOLLOW, so its depth has no PATH_MAX limit, a symlink is never
// followed and the walk never leaves the tree (going back up by "..", it checks where that
// leads); it holds sizeOpenMax+2 handles at most, memory for the names of the subdirectories
// still to walk on the way down, and no stack frame per level.
func measureTree(dir string, files bool) (int64, error) {
	m := &treeSize{root: dir, files: files, seen: map[fileID]bool{}}
	if err := m.walk(); err != nil {
		return 0, fmt.Errorf("measuring %s: %w", dir, err)
	}
	return m.total, nil
}

func (m *treeSize) walk() error {
	fd, err := openDirAt(unix.AT_FDCWD, m.root)
	switch err {
	case nil:
	case unix.ENOTDIR, unix.ELOOP:
		// No directory (a symlink is not followed): it is the one entry counted.
		var st unix.Stat_t
		if err := ignoringEINTR(func() error { return unix.Lstat(m.root, &st) }); err != nil {
			return &fs.PathError{Op: "lstat", Path: m.root, Err: err}
		}
		m.add(&st)
		return nil
	default:
		return &fs.PathError{Op: "open", Path: m.root, Err: err}
	}
	bp := sizeBufPool.Get().(*[]byte)
	m.buf = *bp
	defer func() {
		sizeBufPool.Put(bp)
		for _, l := range m.stack {
			if l.fd >= 0 {
				unix.Close(l.fd)
			}
		}
		m.stack = nil
	}()
	m.stack = append(m.stack, sizeLevel{fd: fd})
	if err := m.enter(fd); err != nil {
		return err
	}
	for {
		top := &m.stack[len(m.stack)-1]
		if n := len(top.subdirs); n > 0 {
			name := top.subdirs[n-1]
			top.subdirs = top.subdirs[:n-1]
			if err := m.down(top.fd, name); err != nil {
				return err
			}
			continue
		}
		if len(m.stack) == 1 {
			return nil
		}
		if err := m.up(); err != nil {
			return err
		}
	}
}

// down opens the subdirectory name of fd, the walk's deepest level, and reads it.
func (m *treeSize) down(fd int, name string) error {
	next, err := openDirAt(fd, name)
	switch {
	case err == nil:
	case err == unix.ENOTDIR || err == unix.ELOOP:
		// Replaced by a non-directory since its parent was read: measured as one.
		return m.entry(fd, name, nil)
	case err == unix.ENOENT && m.files:
		return nil // removed since its parent was read
	default:
		return &fs.PathError{Op: "open", Path: m.path(name), Err: err}
	}
	m.stack = append(m.stack, sizeLevel{fd: next, name: name})
	if i := len(m.stack) - 1 - max(sizeOpenMax, 1); i >= 1 && m.stack[i].fd >= 0 {
		l := &m.stack[i]
		var st unix.Stat_t
		if err := ignoringEINTR(func() error { return unix.Fstat(l.fd, &st) }); err != nil {
			return &fs.PathError{Op: "fstat", Path: m.pathTo(i + 1), Err: err}
		}
		l.dev, l.ino = uint64(st.Dev), st.Ino
		unix.Close(l.fd)
		l.fd = -1
	}
	return m.enter(next)
}

// enter reads the directory fd just pushed on the stack: it measures (DirSize) the directory
// and measures the non-directories in it, and keeps the names of its subdirectories.
func (m *treeSize) enter(fd int) error {
	if !m.files {
		var st unix.Stat_t
		if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
			return &fs.PathError{Op: "fstat", Path: m.pathTo(len(m.stack)), Err: err}
		}
		m.add(&st)
	}
	var subdirs []string
	err := rmtree.ReadEntries(fd, m.buf, func(name string, typ uint8) error {
		if typ == unix.DT_DIR {
			subdirs = append(subdirs, name)
			return nil
		}
		return m.entry(fd, name, &subdirs)
	})
	m.stack[len(m.stack)-1].subdirs = subdirs
	if err == unix.ENOENT && m.files {
		// getdents's answer in a directory removed since it was opened: what was read of
		// it counts, as a walk that had read it before it went.
		return nil
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return err
		}
		return &fs.PathError{Op: "readdirent", Path: m.pathTo(len(m.stack)), Err: err}
	}
	if sizeWalkHook != nil {
		names := make([]string, 0, len(m.stack)-1)
		for _, l := range m.stack[1:] {
			names = append(names, l.name)
		}
		sizeWalkHook(names)
	}
	return nil
}

// entry measures the entry name of the directory fd, which its type says (or said, or did not
// say) is no directory; a directory is added to *subdirs, or skipped where subdirs is nil.
func (m *treeSize) entry(fd int, name string, subdirs *[]string) error {
	var st unix.Stat_t
	err := ignoringEINTR(func() error { return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	if err == unix.ENOENT && m.files {
		return nil // removed since its directory was read
	}
	if err != nil {
		return &fs.PathError{Op: "lstat", Path: m.path(name), Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if subdirs != nil {
			*subdirs = append(*subdirs, name)
		}
		return nil
	}
	m.add(&st)
	return nil
}

// add measures one entry: its size (FilesSize, directories none) or its blocks (DirSize), a
// non-directory with hard links once.
func (m *treeSize) add(st *unix.Stat_t) {
	dir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if m.files && dir {
		return
	}
	if st.Nlink > 1 && !dir {
		id := fileID{uint64(st.Dev), st.Ino}
		if m.seen[id] {
			return
		}
		m.seen[id] = true
	}
	if m.files {
		m.total += st.Size
	} else {
		m.total += st.Blocks * 512
	}
}

// up leaves the deepest level for its parent, opening the parent again by ".." when its
// handle was closed. The directory ".." leads to must be the one left (a running container
// may move directories while it is measured); where it is not, the parent is opened again from
// the nearest level above that is still where it was, and the levels below that one, moved
// away, are skipped by FilesSize as what goes during a walk, and fail DirSize.
func (m *treeSize) up() error {
	n := len(m.stack)
	child := m.stack[n-1]
	parent := &m.stack[n-2]
	if parent.fd < 0 {
		fd, err := openDirAt(child.fd, "..")
		if err == nil {
			var st unix.Stat_t
			err = ignoringEINTR(func() error { return unix.Fstat(fd, &st) })
			if err == nil && (uint64(st.Dev) != parent.dev || st.Ino != parent.ino) {
				err = errMovedAway
			}
			if err != nil {
				unix.Close(fd)
				fd = -1
			}
		}
		if err != nil {
			unix.Close(child.fd)
			m.stack = m.stack[:n-1]
			return m.reopen()
		}
		parent.fd = fd
	}
	unix.Close(child.fd)
	m.stack = m.stack[:n-1]
	return nil
}

// reopen opens the deepest level again from the root (whose handle stays open) by name, each
// level on the way checked to be the directory it was; all but the root are closed, as up
// found the deepest one closed. Where a level is not found again, moved or removed, FilesSize
// cuts the stack above it and goes on from there; DirSize fails.
func (m *treeSize) reopen() error {
	fd := m.stack[0].fd
	for i := 1; i < len(m.stack); i++ {
		l := &m.stack[i]
		next, err := openDirAt(fd, l.name)
		if err == nil {
			var st unix.Stat_t
			err = ignoringEINTR(func() error { return unix.Fstat(next, &st) })
			if err == nil && (uint64(st.Dev) != l.dev || st.Ino != l.ino) {
				err = errMovedAway
			}
			if err != nil {
				unix.Close(next)
			}
		}
		if err != nil {
			gone := err == errMovedAway || err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP
			if !m.files || !gone {
				if i > 1 {
					unix.Close(fd)
				}
				return &fs.PathError{Op: "open", Path: m.pathTo(i + 1), Err: err}
			}
			m.stack = m.stack[:i]
			if i > 1 {
				m.stack[i-1].fd = fd
			}
			return nil
		}
		if i > 1 {
			unix.Close(fd)
		}
		fd = next
	}
	m.stack[len(m.stack)-1].fd = fd
	return nil
}

// pathTo is the path of the stack's first n levels, for errors: the middle of a path of more
// than a few dozen levels is left out.
func (m *treeSize) pathTo(n int) string {
	names := make([]string, 0, n)
	for _, l := range m.stack[1:n] {
		names = append(names, l.name)
	}
	return joinLong(m.root, names)
}

// path is the path of name in the deepest level, for errors.
func (m *treeSize) path(name string) string {
	names := make([]string, 0, len(m.stack))
	for _, l := range m.stack[1:] {
		names = append(names, l.name)
	}
	return joinLong(m.root, append(names, name))
}

// joinLong joins root and names, leaving out the middle of more than 32 names.
func joinLong(root string, names []string) string {
	if len(names) == 0 {
		return root
	}
	if len(names) <= 32 {
		return root + "/" + strings.Join(names, "/")
	}
	return fmt.Sprintf("%s/%s/…%d levels…/%s", root, strings.Join(names[:8], "/"), len(names)-16, strings.Join(names[len(names)-8:], "/"))
}

func openDirAt(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, sizeDirFlags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
