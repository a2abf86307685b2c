package layers

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/sparsetar"
)

// TreeOptions say what WriteTree writes.
type TreeOptions struct {
	// Diff writes the one dir given as a layer, a container's writable layer: overlayfs's
	// whiteouts (0/0 character devices) become ".wh.NAME" entries and its opaque directories
	// a ".wh..wh..opq" entry, as the OCI layer format has them. Without it the dirs, top
	// first, are merged as overlayfs shows them (whiteouts and opaque directories hide what
	// is below them) and no whiteout is written: a whole filesystem.
	Diff bool
	// Skip, if set, leaves out the entry name ("/etc/hostname") whose lstat is st, and all
	// under it.
	Skip func(name string, st *unix.Stat_t) bool
	// UserXattr says the dirs are an overlay mounted with userxattr: overlayfs's marks
	// (opaque, redirect, metacopy) are then in user.overlay.*, else in trusted.overlay.*.
	// Only that one namespace is read: the other is the container's to write (a root
	// overlay passes user.overlay.* through to the upper dir), and a forged mark there
	// would hide the image's files from a commit, an export or a diff.
	UserXattr bool
	// Holes writes a regular file with holes as a sparse entry (PAX GNU.sparse 1.0, as GNU
	// tar --sparse writes it; Apply keeps its holes, unread): its data only, so a file of a
	// terabyte of holes costs its data, not its size. Without it every file is written
	// whole, holes as zeros, as docker's layers and exports have them.
	Holes bool
}

// maxTreeDepth bounds how deep WriteTree descends: each level holds a descriptor per layer
// open, and no path deeper than this fits in PATH_MAX anyway.
const maxTreeDepth = 2048

// WriteTree writes dirs as one tar to w, entries sorted by name with their mode, owner and
// mtime (to the second, as docker's layers have them), so the same tree makes the same tar.
// The trees are hostile: nothing is opened through a symlink (each step is an openat with
// O_NOFOLLOW from the directory already open), a file that stops being a regular file
// between its lstat and its open is written as what it is then, device nodes and FIFOs are
// written as headers only, and sockets are left out, as docker leaves them out. A file that
// shrinks while it is read (a running container) is padded with zeros to the size its header
// says, so the tar stays whole.
func WriteTree(ctx context.Context, w io.Writer, dirs []string, opts TreeOptions) (err error) {
	if len(dirs) == 0 {
		return errors.New("writing a tree: no directory")
	}
	if opts.Diff && len(dirs) != 1 {
		return errors.New("writing a layer: one directory is needed")
	}
	fds := make([]int, 0, len(dirs))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, d := range dirs {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: d, Err: err}
		}
		fds = append(fds, fd)
	}
	t := &treeWriter{ctx: ctx, w: w, tw: tar.NewWriter(w), opts: opts, links: map[[2]uint64]string{}}
	if err := t.dir(fds, "", 0); err != nil {
		return err
	}
	return t.tw.Close()
}

type treeWriter struct {
	ctx   context.Context
	w     io.Writer // under tw, for the PAX headers of sparse entries (sparsetar)
	tw    *tar.Writer
	opts  TreeOptions
	links map[[2]uint64]string // a file with more than one link, by dev and inode: its first name
	buf   []byte
}

// found is a name of a merged directory: the layer (index in fds) it comes from and its lstat.
type found struct {
	layer int
	st    unix.Stat_t
}

func isWhiteoutStat(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// overlayNS is the xattr prefix overlayfs keeps its marks under for these dirs.
func (t *treeWriter) overlayNS() string {
	if t.opts.UserXattr {
		return "user.overlay."
	}
	return "trusted.overlay."
}

// fdOpaque reports whether overlayfs marks the directory fd opaque.
func (t *treeWriter) fdOpaque(fd int) bool {
	buf := make([]byte, 4)
	n, err := unix.Fgetxattr(fd, t.overlayNS()+"opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// fdHasXattr reports whether overlayfs set its xattr overlay.<what> on fd. A writable
// layer with metacopy or redirect_dir entries does not hold the container's changes whole,
// nor its dirs read one by one its filesystem: a kernel that turns those features on by
// default makes them.
func (t *treeWriter) fdHasXattr(fd int, what string) bool {
	_, err := unix.Fgetxattr(fd, t.overlayNS()+what, nil)
	return err == nil
}

// readNames lists the directory fd without moving fd's own offset: it reads a duplicate.
func readNames(fd int) ([]string, error) {
	dup, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

// dir writes the entries of the directory rel ("" for the root, else "a/b/") whose layers
// fds are, top first.
func (t *treeWriter) dir(fds []int, rel string, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("%s: directories nested more than %d deep", rel, maxTreeDepth)
	}
	if !t.opts.Diff {
		// What is below an opaque directory does not show.
		for i, fd := range fds[:len(fds)-1] {
			if t.fdOpaque(fd) {
				fds = fds[:i+1]
				break
			}
		}
	}
	seen := map[string]found{}
	var names []string
	for i, fd := range fds {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		list, err := readNames(fd)
		if err != nil {
			return fmt.Errorf("reading %s: %w", "/"+rel, err)
		}
		for _, n := range list {
			if _, ok := seen[n]; ok {
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue // removed meanwhile
				}
				return fmt.Errorf("reading %s: %w", "/"+rel+n, err)
			}
			seen[n] = found{layer: i, st: st}
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		f := seen[n]
		name := rel + n
		if isWhiteoutStat(&f.st) {
			if t.opts.Diff {
				if err := t.whiteout(rel+whiteoutPrefix+n, &f.st); err != nil {
					return err
				}
			}
			continue
		}
		if t.opts.Diff && len(n) >= len(whiteoutPrefix) && n[:len(whiteoutPrefix)] == whiteoutPrefix {
			// It would read back as a whiteout, deleting what it names.
			return fmt.Errorf("/%s: a file named %s... cannot be in a layer", name, whiteoutPrefix)
		}
		if t.opts.Skip != nil && t.opts.Skip("/"+name, &f.st) {
			continue
		}
		if err := t.entry(fds, f.layer, n, name, &f.st, depth); err != nil {
			return err
		}
	}
	return nil
}

// whiteout writes the OCI whiteout name for an overlay whiteout, as moby writes one.
func (t *treeWriter) whiteout(name string, st *unix.Stat_t) error {
	return t.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: mtime(st), Format: tar.FormatPAX,
	})
}

func mtime(st *unix.Stat_t) time.Time { return time.Unix(st.Mtim.Sec, 0) }

func header(name string, st *unix.Stat_t) *tar.Header {
	return &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: mtime(st), Format: tar.FormatPAX,
	}
}

// errSwapped says an entry is no longer of the type its lstat said, before anything of it was
// written: a running container replaced it meanwhile (a directory swapped for a symlink).
var errSwapped = errors.New("swapped meanwhile")

// maxSwaps bounds how many times entry looks again at an entry that keeps changing type.
const maxSwaps = 100

// entry writes the entry base of directory layer fds[layer] as name, st its lstat. One that
// a running container swaps for another type meanwhile is written as what it is then, as a
// file turned symlink is: the commit or export of a container that replaces a directory by a
// symlink (a deploy's "ln -sfn", a rename over it) failed with "not a directory" or "invalid
// argument" whenever the walk came by at that moment.
func (t *treeWriter) entry(fds []int, layer int, base, name string, st *unix.Stat_t, depth int) error {
	for tries := 0; ; tries++ {
		err := t.entryAs(fds, layer, base, name, st, depth)
		if err != errSwapped {
			return err
		}
		if tries == maxSwaps {
			return fmt.Errorf("reading %s: it keeps changing type", "/"+name)
		}
		var now unix.Stat_t
		if err := unix.Fstatat(fds[layer], base, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return fmt.Errorf("reading %s: %w", "/"+name, err)
		}
		if isWhiteoutStat(&now) {
			if t.opts.Diff {
				return t.whiteout(name[:len(name)-len(base)]+whiteoutPrefix+base, &now)
			}
			return nil
		}
		st = &now
	}
}

func (t *treeWriter) entryAs(fds []int, layer int, base, name string, st *unix.Stat_t, depth int) error {
	pfd := fds[layer]
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return t.subdir(fds, layer, base, name, depth)
	case unix.S_IFREG:
		return t.file(pfd, base, name, depth)
	case unix.S_IFLNK:
		target, err := readlinkat(pfd, base)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			if errors.Is(err, unix.EINVAL) {
				return errSwapped // no symlink now
			}
			return fmt.Errorf("reading %s: %w", "/"+name, err)
		}
		h := header(name, st)
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
		return t.tw.WriteHeader(h)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		h := header(name, st)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			h.Typeflag = tar.TypeChar
		case unix.S_IFBLK:
			h.Typeflag = tar.TypeBlock
		default:
			h.Typeflag = tar.TypeFifo
		}
		if h.Typeflag != tar.TypeFifo {
			h.Devmajor, h.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		}
		return t.tw.WriteHeader(h)
	}
	return nil // a socket: tar has no such entry
}

func readlinkat(fd int, name string) (string, error) {
	for size := 256; size <= 1<<16; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
	return "", unix.ENAMETOOLONG
}

// subdir writes the directory base of fds[layer] and what it holds: merged with the same
// directory of the layers below until one is opaque or has something else there.
func (t *treeWriter) subdir(fds []int, layer int, base, name string, depth int) error {
	fd, err := unix.Openat(fds[layer], base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return errSwapped // no directory now
		}
		return fmt.Errorf("opening %s: %w", "/"+name, err)
	}
	children := []int{fd}
	defer func() {
		for _, c := range children {
			unix.Close(c)
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	h := header(name+"/", &st)
	h.Typeflag = tar.TypeDir
	if err := t.tw.WriteHeader(h); err != nil {
		return err
	}
	opaque := t.fdOpaque(fd)
	// Merged too: a renamed dir shows the lower dir its redirect names, which the layer
	// dirs read one by one do not (image layers never hold overlay xattrs: Apply drops them).
	if t.fdHasXattr(fd, "redirect") {
		return fmt.Errorf("/%s: a directory overlayfs renamed (redirect_dir): its changes cannot be read from the writable layer alone", name)
	}
	if t.opts.Diff {
		if opaque {
			wh := &tar.Header{
				Typeflag: tar.TypeReg, Name: name + "/" + whiteoutOpaque, Mode: int64(st.Mode & 0o777),
				Uid: int(st.Uid), Gid: int(st.Gid), ModTime: mtime(&st), Format: tar.FormatPAX,
			}
			if err := t.tw.WriteHeader(wh); err != nil {
				return err
			}
		}
	} else if !opaque {
		for _, lower := range fds[layer+1:] {
			var lst unix.Stat_t
			if err := unix.Fstatat(lower, base, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				return fmt.Errorf("reading %s: %w", "/"+name, err)
			}
			if lst.Mode&unix.S_IFMT != unix.S_IFDIR {
				break // a file or a whiteout hides the layers below
			}
			lfd, err := unix.Openat(lower, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("opening %s: %w", "/"+name, err)
			}
			children = append(children, lfd)
			if t.fdOpaque(lfd) {
				break
			}
		}
	}
	return t.dir(children, name+"/", depth+1)
}

// file writes the regular file base of directory pfd as name, or a hard link to the name its
// inode was written under first.
func (t *treeWriter) file(pfd int, base, name string, depth int) error {
	// O_PATH first: what is there now is only looked at. Opened for reading, a device node
	// swapped in meanwhile (a running container's writable layer) was opened by the host,
	// as root and outside the container's device cgroup, with whatever its driver does on
	// an open (a watchdog starts, a tape rewinds). Only a regular file is opened, through
	// this descriptor, so the inode read is the one looked at.
	pathFd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("opening %s: %w", "/"+name, err)
	}
	defer unix.Close(pathFd)
	var st unix.Stat_t
	if err := unix.Fstat(pathFd, &st); err != nil {
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return nil // swapped for a directory meanwhile: left out rather than followed
	default:
		// Swapped for something else meanwhile: written as what it is.
		return t.entry([]int{pfd}, 0, base, name, &st, depth)
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pathFd), unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", "/"+name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if t.fdHasXattr(fd, "metacopy") {
		return fmt.Errorf("/%s: a metadata-only copy up (overlayfs metacopy): its data is in the image's layer", name)
	}
	h := header(name, &st)
	h.Typeflag = tar.TypeReg
	if st.Nlink > 1 {
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if first, ok := t.links[key]; ok {
			h.Typeflag, h.Linkname = tar.TypeLink, first
			return t.tw.WriteHeader(h)
		}
		t.links[key] = name
	}
	// The one xattr docker's layers keep: file capabilities (ping's cap_net_raw).
	buf := make([]byte, 256)
	if n, err := unix.Fgetxattr(fd, "security.capability", buf); err == nil && n > 0 {
		h.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(buf[:n])}
	}
	h.Size = st.Size
	if t.opts.Holes && st.Blocks*512 < st.Size {
		frags, err := sparsetar.Map(t.ctx, f, st.Size)
		if err != nil {
			return fmt.Errorf("reading %s: %w", "/"+name, err)
		}
		if frags != nil {
			if err := sparsetar.WriteFile(t.ctx, t.w, t.tw, f, h, frags); err != nil {
				return fmt.Errorf("reading %s: %w", "/"+name, err)
			}
			return nil
		}
	}
	if err := t.tw.WriteHeader(h); err != nil {
		return err
	}
	if t.buf == nil {
		t.buf = make([]byte, 256<<10)
	}
	// The context is asked between reads: a container's sparse file of a terabyte takes no
	// room on its disk, and its zeros took hours to read, Ctrl-C or not.
	n, err := io.CopyBuffer(t.tw, io.LimitReader(readerOnly{t.ctx, f}, st.Size), t.buf)
	if err != nil {
		return fmt.Errorf("reading %s: %w", "/"+name, err)
	}
	// Shrunk while read: zeros keep the header's size.
	for n < st.Size {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		clear(t.buf)
		m, err := t.tw.Write(t.buf[:min(int64(len(t.buf)), st.Size-n)])
		if err != nil {
			return err
		}
		n += int64(m)
	}
	return nil
}

// readerOnly hides *os.File's WriterTo, so io.CopyBuffer reads through its buffer, and reads
// until ctx ends.
type readerOnly struct {
	ctx context.Context
	r   io.Reader
}

func (r readerOnly) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
