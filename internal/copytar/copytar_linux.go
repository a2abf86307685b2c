// Package copytar writes and reads the tar streams of `strata cp`, on trees neither side
// trusts: a container's filesystem, whose entries may change while they are read, and a tar
// a user or a container hands in.
//
// Writing walks a tree through descriptors: every entry is opened by name in its parent's
// descriptor without following a symlink, so a symlink swapped in for a directory is archived
// as the symlink it is, never followed out of the tree. Reading goes through layers.Apply,
// which resolves every name inside the destination directory (openat2 RESOLVE_IN_ROOT), with
// docker's extraction rules on top: a directory is never replaced by a non-directory nor the
// reverse, owners are rewritten as docker cp sets them, and device nodes are left out where
// the stream comes from a container.
package copytar

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/ctxio"
	"github.com/strata-run/strata/internal/sparsetar"
	"github.com/strata-run/strata/layers"
)

// FdPath is the path that reopens what fd is open on: the kernel follows the magic link to
// exactly that object, whatever its name leads to now.
func FdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// WriteTree writes top (an O_PATH descriptor, of anything) and, for a directory, everything
// below it as a tar to w, the top entry named name ("." for a directory's contents as
// docker's "dir/." gives them). It returns the bytes of regular file content written. Device
// nodes, FIFOs and symlinks are archived as what they are; sockets are left out, as docker
// leaves them out. Entries of procfs and sysfs are not descended into.
func WriteTree(ctx context.Context, w io.Writer, top int, name string) (int64, error) {
	return WriteTreeWith(ctx, w, top, name, WriteOptions{})
}

// WriteOptions say how WriteTreeWith writes a tree.
type WriteOptions struct {
	// Holes writes a regular file with holes as a sparse entry (PAX GNU.sparse 1.0, as GNU
	// tar --sparse writes it; Extract keeps its holes): its data only, found with
	// SEEK_DATA/SEEK_HOLE, so a file of a terabyte of holes costs its data, not its size.
	// Without it every file is written whole, holes as zeros, as docker's tar has them.
	Holes bool
}

// WriteTreeWith is WriteTree with options.
func WriteTreeWith(ctx context.Context, w io.Writer, top int, name string, opts WriteOptions) (int64, error) {
	tw := tar.NewWriter(w)
	t := &treeWriter{ctx: ctx, w: w, tw: tw, holes: opts.Holes, links: map[inode]string{}, onPath: map[inode]bool{}}
	if err := t.entry(top, name, true); err != nil {
		return t.content, err
	}
	return t.content, tw.Close()
}

type inode struct{ dev, ino uint64 }

type treeWriter struct {
	ctx     context.Context
	w       io.Writer // under tw, for the PAX headers of sparse entries tw cannot write
	tw      *tar.Writer
	holes   bool
	content int64
	// links names the first entry of each file with more than one link: the later ones are
	// hard links to it, as docker's tar has them.
	links map[inode]string
	// onPath holds the directories from the top down to the one being written: a bind mount
	// of a directory below itself would loop forever.
	onPath map[inode]bool
}

// maxDepth bounds how deep a tree is walked: each level holds a descriptor open. A deeper
// tree is an error, not cut short: its path would not fit in PATH_MAX anyway (layers'
// maxTreeDepth, which commit and export keep).
const maxDepth = 2048

func (t *treeWriter) entry(fd int, name string, isTop bool) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: timeOf(st.Mtim),
		Format:  tar.FormatPAX,
	}
	key := inode{uint64(st.Dev), st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		if !strings.HasSuffix(hdr.Name, "/") {
			hdr.Name += "/"
		}
		return t.dir(fd, hdr, key, st)
	case unix.S_IFREG:
		if st.Nlink > 1 {
			if first, ok := t.links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return t.tw.WriteHeader(hdr)
			}
			t.links[key] = name
		}
		return t.file(fd, hdr, st)
	case unix.S_IFLNK:
		target, err := readlinkFd(fd)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		if isTop {
			return fmt.Errorf("%s: cannot copy a socket", name)
		}
		return nil
	}
	return t.tw.WriteHeader(hdr)
}

func (t *treeWriter) file(fd int, hdr *tar.Header, st unix.Stat_t) error {
	// O_NONBLOCK: should the file have become a FIFO since, the open must not wait for a
	// writer; the reopen through the descriptor reaches the same inode anyway.
	f, err := os.OpenFile(FdPath(fd), os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	defer f.Close()
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	if t.holes && st.Blocks*512 < st.Size {
		frags, err := sparsetar.Map(t.ctx, f, st.Size)
		if err != nil {
			return fmt.Errorf("%s: %w", hdr.Name, err)
		}
		if frags != nil {
			if err := sparsetar.WriteFile(t.ctx, t.w, t.tw, f, hdr, frags); err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
			t.content += st.Size
			return nil
		}
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	// The context is asked between reads: a container's sparse file of a terabyte takes no
	// room on its disk, and its zeros took hours to read, Ctrl-C or not.
	n, err := io.CopyN(t.tw, ctxio.NewReader(t.ctx, f), st.Size)
	t.content += n
	if err == io.EOF {
		// The file shrank while it was read (a running container writes it): the entry
		// keeps the size its header says, the rest zeros.
		_, err = io.CopyN(t.tw, ctxio.NewReader(t.ctx, zeros{}), st.Size-n)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	return nil
}

func (t *treeWriter) dir(fd int, hdr *tar.Header, key inode, st unix.Stat_t) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if t.onPath[key] {
		return nil // a bind of a dir below itself: once
	}
	if len(t.onPath) >= maxDepth {
		name := hdr.Name
		if len(name) > 100 {
			name = strings.ToValidUTF8(name[:100], "") + "…"
		}
		return fmt.Errorf("%s: directories nested more than %d deep", name, maxDepth)
	}
	var fs unix.Statfs_t
	if unix.Fstatfs(fd, &fs) == nil && (fs.Type == unix.PROC_SUPER_MAGIC || fs.Type == unix.SYSFS_MAGIC) {
		return nil // the kernel's files, not the container's
	}
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	d := os.NewFile(uintptr(dfd), hdr.Name)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("%s: %w", hdr.Name, err)
	}
	sort.Strings(names)
	t.onPath[key] = true
	defer delete(t.onPath, key)
	for _, n := range names {
		cfd, err := unix.Openat(dfd, n, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path.Join(hdr.Name, n), err)
		}
		err = t.entry(cfd, hdr.Name+n, false)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

func readlinkFd(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func timeOf(ts unix.Timespec) time.Time { return time.Unix(ts.Sec, ts.Nsec) }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// ExtractOptions say how Extract rewrites the entries it applies.
type ExtractOptions struct {
	// Owner, when set, is the uid and gid every entry gets (docker cp without -a: the
	// receiving end's root, or the user who runs the copy); nil keeps the tar's.
	Owner *[2]int
	// NoDevices leaves device nodes out: a container's tar copied to the host must not make
	// a node of the host's disk there.
	NoDevices bool
	// MaxSize bounds the tar, MaxEntries its entries (0: layers' defaults, a pulled layer's
	// bounds against a decompression bomb).
	MaxSize    int64
	MaxEntries int
	// MinFreeBytes is layers.Options': 0 keeps layers' free-space floor (a container's
	// writable layer is in strata's store), <0 none (a host path the user chose, which
	// docker cp fills as far as it goes).
	MinFreeBytes int64
}

// Extract applies the tar r (plain, gzip or zstd) into the directory dirfd is open on, as
// docker's Untar with NoOverwriteDirNonDir: every name stays inside that directory, an
// existing directory is never replaced by a non-directory nor the reverse ("cannot overwrite
// directory ... with non-directory ..."). It returns the bytes of the tar read. Sparse
// entries (GNU's formats, as WriteTreeWith's Holes writes them) keep their holes, unread.
func Extract(ctx context.Context, dirfd int, r io.Reader, opts ExtractOptions) (int64, error) {
	counted := &countingReader{r: r}
	_, err := layers.Apply(ctx, FdPath(dirfd), counted, layers.Options{
		Whiteouts:    layers.WhiteoutKeep, // a ".wh." file a user copies is a file
		NoAUFSMeta:   true,                // and so is a ".wh..wh.aufs" (docker cp's Untar)
		MaxSize:      opts.MaxSize,
		MaxEntries:   opts.MaxEntries,
		MinFreeBytes: opts.MinFreeBytes,
		Entry:        func(hdr *tar.Header) (bool, error) { return checkEntry(dirfd, hdr, opts) },
	})
	if errors.Is(err, layers.ErrUnsafePath) || errors.Is(err, layers.ErrLowDiskSpace) {
		// Apply's words are a layer's; here the tar is the user's or a container's.
		err = errors.New(strings.ReplaceAll(err.Error(), "the layer dir", "the destination directory"))
	}
	return counted.n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// checkEntry checks an entry against what dirfd holds (every entry before it applied), and
// sets its owner: Apply's Entry for Extract. It says to skip a device node opts leave out.
func checkEntry(dirfd int, hdr *tar.Header, opts ExtractOptions) (skip bool, err error) {
	if (hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock) && opts.NoDevices {
		return true, nil
	}
	name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
	isDir := hdr.Typeflag == tar.TypeDir
	if name != "" {
		switch wasDir, seen := existsIn(dirfd, name); {
		case seen && wasDir && !isDir:
			return false, fmt.Errorf("cannot overwrite directory %q with non-directory %q", "/"+name, hdr.Name)
		case seen && !wasDir && isDir:
			return false, fmt.Errorf("cannot overwrite non-directory %q with directory %q", "/"+name, hdr.Name)
		}
	}
	if opts.Owner != nil {
		if hdr.Typeflag != tar.TypeDir && (hdr.Uid != opts.Owner[0] || hdr.Gid != opts.Owner[1]) {
			// As cp(1) does when it cannot keep a file's owner: a set-id bit is for the
			// owner that set it, not for the one the copy gets.
			hdr.Mode &^= unix.S_ISUID | unix.S_ISGID
		}
		hdr.Uid, hdr.Gid = opts.Owner[0], opts.Owner[1]
		hdr.Uname, hdr.Gname = "", ""
	}
	return false, nil
}

// existsIn reports whether name exists in dirfd, resolved inside it, its last component not
// followed, and whether it is a directory.
func existsIn(dirfd int, name string) (isDir, exists bool) {
	fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false, false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR, true
}
