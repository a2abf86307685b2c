package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/strata-run/strata/internal/freespace"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// extractor applies tar entries into one layer dir. It is used by one goroutine.
type extractor struct {
	opts *Options
	root *root
	buf  *[]byte

	maxSize int64
	minFree int64
	written int64 // bytes of file content written
	holes   int64 // bytes of sparse files' content read as zeros and left as holes
	// skippedHoles is the bytes of holes of sparse files whose holes were never read.
	skippedHoles int64
	meta         int64 // inodeCost for every entry and parent directory made
	nextCheck    int64 // written+meta value at which free space is checked again
	entries      int

	// dirs holds the metadata applied after all entries, because creating a child changes a
	// directory's mtime and a read-only mode would block its children. byDir indexes it by
	// inode, so that a repeated directory entry, or one naming the same directory through a
	// symlink, replaces its record. deferred counts the memory they take (dirMetaCost each,
	// and the names) against deferredMax.
	dirs     []dirMeta
	byDir    map[dirKey]int
	deferred int64
	// rootSeen is set once a "./" entry gave the layer dir its metadata.
	rootSeen bool
	// symlinks is set once the layer made a symlink: an entry's name may pass one since.
	symlinks bool
	// rootPath is the kernel's name for the layer dir, "" where it cannot be told.
	rootPath string
	// opaque and whiteouts are set once a directory was made opaque and a whiteout made:
	// finish then removes the whiteouts below opaque directories (dropSealedWhiteouts).
	opaque, whiteouts bool
	// plnk is the directory, open as plnkFD, where the regular files of AUFS's
	// ".wh..wh.plnk/" wait for the hard links to them: a random name at the layer's root,
	// which no entry can name (every root name of that prefix is AUFS metadata, aufsMeta) nor
	// reach through a symlink (it cannot be guessed). "" until the layer has such a file;
	// finish and close remove it.
	plnk   string
	plnkFD int
}

// deferredMax bounds the memory of the deferred directory metadata. Real layers stay far
// below it (100,000 directories with 100-byte names take 22 MiB), where a hostile one of a
// million directories with 4 KiB names would hold 4 GiB. Directories past it get their mode
// and times at once: a later child may bump such a directory's mtime, and as non-root a
// read-only one refuses children, which is fair for a layer no honest writer makes. A
// variable for tests.
var deferredMax int64 = 64 << 20

// dirMetaCost is what one deferred directory takes besides its name: the record and its
// index entry.
const dirMetaCost = 128

type dirMeta struct {
	// name is the directory's path in the layer dir, which leads there through no symlink
	// (the entry's name may pass one the layer made), and key its inode: finish sets the
	// metadata only on that directory. Another name may lead elsewhere by then, when a later
	// entry replaced a directory on the way with a symlink (to another directory, which the
	// tar gives a mode of its own), or lead nowhere.
	name         string
	key          dirKey
	gone         bool // a later record replaced this one
	mode         uint32
	atime, mtime time.Time
	// defaultACL is the entry's system.posix_acl_default, set with the mode: set at once, every
	// file and directory this layer puts in the directory would inherit it as ACLs of its own
	// that the tar does not give it (a named user's access to a directory of mode 0750, say).
	defaultACL    []byte
	hasDefaultACL bool
}

// dirKey identifies a directory of the layer dir.
type dirKey struct{ dev, ino uint64 }

func keyOf(st *unix.Stat_t) dirKey { return dirKey{uint64(st.Dev), st.Ino} }

// aclDefault is the xattr of a directory's default POSIX ACL.
const aclDefault = "system.posix_acl_default"

func newExtractor(ctx context.Context, dir string, opts *Options) (*extractor, error) {
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	if opts.Whiteouts != WhiteoutKeep {
		r.opaque = opts.Whiteouts.opaqueXattr()
	}
	x := &extractor{
		opts:    opts,
		root:    r,
		buf:     copyBufPool.Get().(*[]byte),
		maxSize: opts.maxSize(),
		minFree: opts.minFree(),
		byDir:   map[dirKey]int{},
	}
	r.onMkdir = x.forgetDir
	var buf [unix.PathMax]byte
	if n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(r.fd), buf[:]); err == nil && n < len(buf) && buf[0] == '/' && n > 1 {
		x.rootPath = string(buf[:n])
	}
	if err := x.checkSpace(ctx); err != nil {
		x.close()
		return nil, err
	}
	return x, nil
}

func (x *extractor) close() error {
	if x.buf != nil {
		copyBufPool.Put(x.buf)
		x.buf = nil
	}
	if x.root == nil {
		return nil
	}
	err := x.dropPlnk()
	err = errors.Join(err, x.root.close())
	x.root = nil
	return err
}

// checkSpace fails when the layer dir's filesystem has less than MinFreeBytes available, and
// reports progress; it runs every spaceCheckInterval bytes written or counted (meta).
func (x *extractor) checkSpace(ctx context.Context) error {
	x.nextCheck = x.written + x.meta + spaceCheckInterval
	if x.opts.Progress != nil && x.written > 0 {
		x.opts.Progress(x.written, x.entries)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if x.minFree <= 0 {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(x.root.fd, &st); err != nil {
		return fmt.Errorf("checking free space: %w", err)
	}
	floor := x.minFree
	if x.opts.MinFreeBytes == 0 {
		// The default scales down on a small filesystem (freespace.Floor), and so does the
		// interval: on a filesystem smaller than it, the write would hit ENOSPC first.
		floor = freespace.OfBlocks(st.Blocks, int64(st.Bsize))
		x.nextCheck = x.written + x.meta + freespace.CheckInterval(floor)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < floor {
		return fmt.Errorf("%w: %d bytes left on the layer dir's filesystem, want at least %d", ErrLowDiskSpace, free, floor)
	}
	// Files is 0 where inodes are not counted (btrfs).
	if want := floor / bytesPerInode; st.Files > 0 && int64(st.Ffree) < want {
		return fmt.Errorf("%w: %d inodes left on the layer dir's filesystem, want at least %d", ErrLowDiskSpace, st.Ffree, want)
	}
	return nil
}

// entry applies one tar entry; r reads its content.
func (x *extractor) entry(ctx context.Context, hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		// Global PAX records carry no file; archive/tar has already folded them in.
		return nil
	}
	// Entries without content still take an inode, often a block: without counting them, a
	// layer of empty directories (or of deep missing parents) fills the disk between two checks.
	x.meta += inodeCost * int64(1+x.root.made)
	x.root.made = 0
	if x.written+x.meta >= x.nextCheck {
		if err := x.checkSpace(ctx); err != nil {
			return err
		}
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := splitName(name)
	if !x.opts.NoAUFSMeta && aufsMeta(name) {
		return x.aufsMeta(ctx, dir, base, hdr, r)
	}
	if whiteoutInPath(dir) {
		return fmt.Errorf("%w: a whiteout name as a parent directory", ErrUnsupportedEntry)
	}
	if x.opts.Whiteouts != WhiteoutKeep && strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(dir, base)
	}
	if name == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: a %s entry names the layer dir itself", ErrUnsafePath, typeName(hdr.Typeflag))
		}
		return x.rootDir(hdr)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("%w: type %s", ErrUnsupportedEntry, typeName(hdr.Typeflag))
	}
	pfd, err := x.root.parent(dir)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		return x.file(ctx, pfd, base, hdr, r)
	case tar.TypeDir:
		return x.dir(pfd, name, base, hdr)
	case tar.TypeSymlink:
		return x.symlink(pfd, base, hdr)
	case tar.TypeLink:
		return x.link(pfd, name, base, hdr)
	default:
		return x.node(pfd, base, hdr)
	}
}

// replace runs create, and when the name is taken (tar may repeat a name; the later entry
// wins) removes what is there and runs it once more.
func (x *extractor) replace(pfd int, base string, create func() error) error {
	err := create()
	if err != unix.EEXIST {
		return err
	}
	if err := x.root.removeAt(pfd, base); err != nil {
		return err
	}
	return create()
}

func (x *extractor) file(ctx context.Context, pfd int, base string, hdr *tar.Header, r io.Reader) error {
	fd := -1
	err := x.replace(pfd, base, func() error {
		var err error
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return err
	}
	if err := x.fileContent(ctx, fd, hdr, r); err != nil {
		unix.Close(fd)
		// A tar cut short or a full disk leaves no half-written file behind (docker cp -
		// into a container would: the name then holds neither the old file nor the new).
		unix.Unlinkat(pfd, base, 0)
		return err
	}
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	return nil
}

func (x *extractor) fileContent(ctx context.Context, fd int, hdr *tar.Header, r io.Reader) error {
	if err := x.copy(ctx, fd, r, hdr); err != nil {
		return err
	}
	if err := x.chown(fd, "", hdr, unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	// After chown: chown clears setuid and setgid.
	if err := unix.Fchmod(fd, perm(hdr)); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	if err := x.xattrs(hdr, func(k string, v []byte) error { return unix.Fsetxattr(fd, k, v, 0) }); err != nil {
		return err
	}
	return setTimes(fd, "", hdr, unix.AT_EMPTY_PATH)
}

// copy writes r into fd with the pooled buffer, counting content against MaxSize and checking
// free space as the layer grows. For sparse entries, blocks of zeros become holes again (left
// unwritten, then a truncate to size), so a sparse /var/log/lastlog stays small on disk.
func (x *extractor) copy(ctx context.Context, fd int, r io.Reader, hdr *tar.Header) error {
	if c, ok := r.(*sparseContent); ok {
		return x.copyFragments(ctx, fd, c)
	}
	sparse := isSparse(hdr)
	if sparse {
		// Its content comes out as data and holes, each against its own budget: a file larger
		// than what both have left fails now rather than after reading its holes.
		if left := x.maxSize - x.written + x.maxHoles() - x.holes; hdr.Size > left {
			return fmt.Errorf("%w: a sparse file of %d bytes, more than the %d bytes of content and holes left", ErrTooLarge, hdr.Size, left)
		}
	}
	buf := *x.buf
	var off int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			var err error
			if sparse {
				err = x.writeSparse(ctx, fd, buf[:n], off)
			} else {
				err = x.write(fd, buf[:n], off)
			}
			if err != nil {
				return err
			}
			off += int64(n)
			if x.written+x.meta >= x.nextCheck {
				if err := x.checkSpace(ctx); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			if sparse {
				// A hole at the end was never written.
				if err := unix.Ftruncate(fd, off); err != nil {
					return fmt.Errorf("extending to %d bytes: %w", off, err)
				}
			}
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("reading content: %w", rerr)
		}
	}
}

// copyFragments writes the stored data of a sparse entry at its offsets and sets the file's
// size, its holes never read nor written: time and space go with the stored data, which
// counts against MaxSize as content (blocks of zeros in it still become holes).
func (x *extractor) copyFragments(ctx context.Context, fd int, c *sparseContent) error {
	// Compared before it is added: a size near 2^63 would wrap the sum past the check.
	holes := c.size - c.data()
	if holes > x.maxSkippedHoles()-x.skippedHoles {
		return fmt.Errorf("%w: a sparse file of %d bytes, past the %d bytes of holes a layer may declare", ErrTooLarge, c.size, x.maxSkippedHoles())
	}
	x.skippedHoles += holes
	buf := *x.buf
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		off, n, rerr := c.next(buf)
		if n > 0 {
			if err := x.writeData(fd, buf[:n], off); err != nil {
				return err
			}
			if x.written+x.meta >= x.nextCheck {
				if err := x.checkSpace(ctx); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading content: %w", rerr)
		}
	}
	if err := unix.Ftruncate(fd, c.size); err != nil {
		return fmt.Errorf("extending to %d bytes: %w", c.size, err)
	}
	return nil
}

// writeData writes b, stored data of a sparse entry, at off: all of it counts against
// MaxSize, its blocks of zeros are left unwritten.
func (x *extractor) writeData(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, zero := dataRun(b, off)
		if zero {
			x.written += int64(n)
			if x.written > x.maxSize {
				return fmt.Errorf("%w: more than %d bytes of content", ErrTooLarge, x.maxSize)
			}
		} else if err := x.write(fd, b[:n], off); err != nil {
			return err
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// write writes b at off, counting it against MaxSize.
func (x *extractor) write(fd int, b []byte, off int64) error {
	x.written += int64(len(b))
	if x.written > x.maxSize {
		return fmt.Errorf("%w: more than %d bytes of content", ErrTooLarge, x.maxSize)
	}
	for len(b) > 0 {
		n, err := unix.Pwrite(fd, b, off)
		if err != nil {
			return fmt.Errorf("writing: %w", err)
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// maxSparseHoles bounds the bytes of holes in the sparse entries of one layer whose holes
// archive/tar's Reader reads (crafted entries whose map cannot be told for certain, see
// sparsemap.go), or MaxSize when that is lower. archive/tar's Reader hands a hole over as
// zeros, every byte of it, and has no way to skip one, so holes cost CPU as content does: a
// 1 KiB layer declaring 60 GiB of them took seconds to a minute to apply. Zeros go by at 10
// to 20 GB/s, so the budget costs well under a second, and it holds a sparse lastlog of uids
// up to 14 million (292 bytes each). A variable for tests.
var maxSparseHoles int64 = 4 << 30

func (x *extractor) maxHoles() int64 { return min(x.maxSize, maxSparseHoles) }

// skippedHoleRatio bounds the holes of the sparse entries whose holes are never read
// (sparsemap.go) to that many times MaxSize in a layer: 64 TiB by default, past the 16 TiB
// file ext4 takes and far past a lastlog for uid 10^9 (292 GB), while a layer declaring
// petabytes fails at once. Holes cost neither time nor disk there; the bound is for what
// reads the layer dir later without seeking over them.
const skippedHoleRatio = 1024

func (x *extractor) maxSkippedHoles() int64 {
	if x.maxSize > (1<<63-1)/skippedHoleRatio {
		return 1<<63 - 1
	}
	return x.maxSize * skippedHoleRatio
}

// sparseBlock is the unit in which zeros in a sparse entry become holes: the page, which is
// the block size of most filesystems.
const sparseBlock = 4 << 10

// writeSparse writes b, content of a sparse entry, at off, leaving its blocks of zeros
// unwritten. Data counts against MaxSize, holes against maxHoles.
func (x *extractor) writeSparse(ctx context.Context, fd int, b []byte, off int64) error {
	if err := ctx.Err(); err != nil {
		// Holes write nothing, so the checks that follow writes would not see ctx for a while.
		return err
	}
	for len(b) > 0 {
		n, zero := dataRun(b, off)
		if zero {
			x.holes += int64(n)
			if x.holes > x.maxHoles() {
				return fmt.Errorf("%w: more than %d bytes of holes in sparse files", ErrTooLarge, x.maxHoles())
			}
		} else if err := x.write(fd, b[:n], off); err != nil {
			return err
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// dataRun is the length of the run of blocks at the start of b, aligned to the file's
// offsets (b is at off), that are zeros as the first one is, or data as it is, and which.
func dataRun(b []byte, off int64) (n int, zero bool) {
	if allZero(b) {
		return len(b), true
	}
	for n < len(b) {
		end := min(len(b), n+sparseBlock-int((off+int64(n))%sparseBlock))
		z := allZero(b[n:end])
		if n == 0 {
			zero = z
		} else if z != zero {
			break
		}
		n = end
	}
	return n, zero
}

// isSparse reports a GNU sparse entry: old GNU format, or PAX GNU.sparse.* records (0.x, 1.0).
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// allZero reports whether b holds only zeros: its first byte is, and each equals the one before.
// Comparing b with itself reads half the memory a comparison with a block of zeros does.
func allZero(b []byte) bool { return len(b) == 0 || b[0] == 0 && bytes.Equal(b[1:], b[:len(b)-1]) }

func (x *extractor) dir(pfd int, name, base string, hdr *tar.Header) (err error) {
	// 0700 until finish sets the real mode: a read-only directory must still take children.
	err = unix.Mkdirat(pfd, base, 0o700)
	overNonDir, again := false, false
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			overNonDir = true
			if err := x.root.removeAt(pfd, base); err != nil {
				return err
			}
			err = unix.Mkdirat(pfd, base, 0o700)
		} else {
			err = nil // a directory over a directory keeps it and takes the new metadata
			again = true
		}
	}
	if err != nil {
		return err
	}
	dfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer func() {
		// The entries that follow are most often the directory's own: its handle serves
		// them as their parent's.
		if err != nil || !x.root.adopt(pfd, name, base, dfd) {
			unix.Close(dfd)
		}
	}()
	if again {
		if err := x.clearXattrs(dfd); err != nil {
			return err
		}
	}
	// A kept ".wh." directory is a whiteout to the vfs copy, which never reads it.
	kept := x.opts.Whiteouts == WhiteoutKeep && strings.HasPrefix(base, whiteoutPrefix)
	if overNonDir && !kept {
		// The layer put something else than a directory at this name (a whiteout ".wh.d",
		// a file, a symlink), which deleted the name and all below it from the layers
		// below, then made it a directory again: the new one is opaque, or the layers
		// below would show through it what the layer deleted (image-spec's changesets,
		// as umoci and containerd apply them). Overlayfs makes an opaque directory for a
		// mkdir over a whiteout the same way.
		if err := x.markOpaque(dfd); err != nil {
			return err
		}
	}
	return x.dirMeta(dfd, name, hdr)
}

// markOpaque makes the directory dfd, which this layer has just made, opaque: overlay's
// xattr, or where whiteouts are kept as files the image-spec's marker ".wh..wh..opq" in it,
// which the vfs copy reads as the tar's own.
func (x *extractor) markOpaque(dfd int) error {
	if x.opts.Whiteouts != WhiteoutKeep {
		if err := x.setOpaque(dfd); err != nil {
			return fmt.Errorf("marking opaque: %w", err)
		}
		return nil
	}
	fd, err := unix.Openat(dfd, whiteoutOpaque, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("marking opaque: %w", err)
	}
	return unix.Close(fd)
}

// clearXattrs removes from the directory dfd, which an earlier entry of this layer made, the
// xattrs that entry set, so that a repeated entry's xattrs replace them as its mode does
// (umoci clears them too); they had piled up. Overlay's markers, which whiteouts set, stay, as
// do names no layer sets (the host's MAC labels).
func (x *extractor) clearXattrs(dfd int) error {
	buf := make([]byte, 4096)
	n, err := unix.Flistxattr(dfd, buf)
	if err == unix.ERANGE {
		if n, err = unix.Flistxattr(dfd, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Flistxattr(dfd, buf)
		}
	}
	if err == unix.ENOTSUP {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing xattrs: %w", err)
	}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" || overlayXattr(name) || !xattrAllowed(name) {
			continue
		}
		err := unix.Fremovexattr(dfd, name)
		if err != nil && err != unix.ENODATA && !(err == unix.EPERM && x.opts.IgnoreOwners) {
			return fmt.Errorf("removing xattr %s: %w", display(name), err)
		}
	}
	return nil
}

// rootDir applies a "./" entry's metadata to the layer dir itself. A repeated one replaces
// the xattrs of the one before, as a repeated directory entry does (dir).
func (x *extractor) rootDir(hdr *tar.Header) error {
	dfd, err := unix.Openat(x.root.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if x.rootSeen {
		if err := x.clearXattrs(dfd); err != nil {
			return err
		}
	}
	x.rootSeen = true
	return x.dirMeta(dfd, "", hdr)
}

func (x *extractor) dirMeta(dfd int, name string, hdr *tar.Header) error {
	if err := x.chown(dfd, "", hdr, unix.AT_EMPTY_PATH); err != nil {
		return err
	}
	m := dirMeta{name: name, mode: perm(hdr), atime: hdr.AccessTime, mtime: hdr.ModTime}
	err := x.xattrs(hdr, func(k string, v []byte) error {
		if k == aclDefault {
			m.defaultACL, m.hasDefaultACL = bytes.Clone(v), true
			return nil
		}
		return unix.Fsetxattr(dfd, k, v, 0)
	})
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err != nil {
		return err
	}
	m.key = keyOf(&st)
	if x.symlinks && name != "" {
		name = x.realName(dfd, name)
	}
	if i, ok := x.byDir[m.key]; ok {
		// The same directory again: this entry's metadata replaces the record's. Under the
		// same name it keeps its place, as a repeated entry always did; reached by another
		// name (through a symlink, or a new directory that took a removed one's inode) the
		// record moves to the end, after those of every directory above that name.
		if x.dirs[i].name == name {
			m.name = x.dirs[i].name
			x.dirs[i] = m
			return nil
		}
		x.dirs[i].gone = true
		delete(x.byDir, m.key)
	}
	cost := dirMetaCost + int64(len(name)) + int64(len(m.defaultACL))
	if x.deferred+cost > deferredMax {
		return x.setDirMeta(dfd, &m)
	}
	x.deferred += cost
	// A copy: archive/tar's names share memory with the whole PAX block they came in, up to
	// 1 MiB, which a layer of padded directory entries would make Apply hold each.
	m.name = strings.Clone(name)
	x.byDir[m.key] = len(x.dirs)
	x.dirs = append(x.dirs, m)
	return nil
}

// forgetDir drops the record of a removed directory whose inode the directory fd, which
// the root has just made as a missing parent, now has: its metadata is not this one's.
func (x *extractor) forgetDir(fd int) {
	if len(x.byDir) == 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return
	}
	if i, ok := x.byDir[keyOf(&st)]; ok {
		x.dirs[i].gone = true
		delete(x.byDir, keyOf(&st))
	}
}

func (x *extractor) symlink(pfd int, base string, hdr *tar.Header) error {
	x.symlinks = true
	if err := x.replace(pfd, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) }); err != nil {
		return err
	}
	return x.nodeMeta(pfd, base, hdr, false)
}

func (x *extractor) link(pfd int, name, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", display(hdr.Linkname), err)
	}
	if target == "" {
		return fmt.Errorf("%w: hard link to the layer dir itself", ErrUnsafePath)
	}
	if target == name {
		return fmt.Errorf("%w: hard link to itself", ErrUnsupportedEntry)
	}
	tdir, tbase := splitName(target)
	if !x.opts.NoAUFSMeta && aufsMeta(target) {
		if tdir == aufsLinkDir {
			return x.plnkLink(pfd, base, tbase)
		}
		// Left out, as is the place of the pseudo-links whatever its name.
		return fmt.Errorf("%w: hard link to %s, AUFS metadata, which a layer does not apply", ErrUnsupportedEntry, display(target))
	}
	// A target in the entry's own directory is named by its handle, which stays open until
	// the next entry even when replace removes a name in it. Elsewhere the target's parent
	// gets its own handle: the cached one is about to serve the new name.
	tfd := pfd
	if edir, _ := splitName(name); tdir != edir {
		var err error
		if tfd, err = x.root.openDir(tdir); err != nil {
			return fmt.Errorf("hard link target %s: %w", display(target), err)
		}
		defer unix.Close(tfd)
	}
	if x.opts.Whiteouts != WhiteoutKeep {
		// A whiteout is no file to link to: another name for it would delete that name from
		// the layers below, where the tar shows a file.
		var st unix.Stat_t
		if unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return fmt.Errorf("%w: hard link to %s, a whiteout", ErrUnsupportedEntry, display(target))
		}
	}
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink, as tar means it. Both sides
	// resolve inside the root, so the target is something this layer put there.
	if err := x.replace(pfd, base, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) }); err != nil {
		return fmt.Errorf("to %s: %w", display(target), err)
	}
	return nil
}

func (x *extractor) node(pfd int, base string, hdr *tar.Header) error {
	mode := perm(hdr)
	var dev int
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	if hdr.Typeflag != tar.TypeFifo {
		if hdr.Devmajor < 0 || hdr.Devmajor > 0xfff || hdr.Devminor < 0 || hdr.Devminor > 0xfffff {
			return fmt.Errorf("%w: device number %d:%d out of range", ErrUnsupportedEntry, hdr.Devmajor, hdr.Devminor)
		}
		dev = int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	}
	err := x.replace(pfd, base, func() error { return unix.Mknodat(pfd, base, mode, dev) })
	if err != nil {
		if err == unix.EPERM && hdr.Typeflag != tar.TypeFifo {
			if inUserNS() {
				// No process of a user namespace may make a device node (but a whiteout's
				// 0/0): the layer is applied without it, as docker and containerd apply it
				// there (pkg/archive and archive's "skipping device nodes in a userns"),
				// rather than failing every image whose layers hold a /dev.
				return nil
			}
			return fmt.Errorf("mknod %s %d:%d: %w (device nodes need CAP_MKNOD)", typeName(hdr.Typeflag), hdr.Devmajor, hdr.Devminor, err)
		}
		return err
	}
	if hdr.Typeflag == tar.TypeChar && dev == 0 {
		x.whiteouts = true // as overlayfs reads it
	}
	return x.nodeMeta(pfd, base, hdr, true)
}

// inUserNS reports whether this process runs in a user namespace other than the host's:
// its uid_map is not the whole range mapped onto itself, as moby's userns.RunningInUserNS
// tells it. A variable for tests.
var inUserNS = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false // no /proc: as on the host
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
})

// nodeMeta sets owner, mode, xattrs and times of something that cannot be opened for writing:
// a symlink or a device node, named by its parent handle and base, never followed.
func (x *extractor) nodeMeta(pfd int, base string, hdr *tar.Header, chmod bool) error {
	if err := x.chown(pfd, base, hdr, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if chmod {
		if err := fchmodatNoFollow(pfd, base, perm(hdr)); err != nil {
			return fmt.Errorf("setting mode: %w", err)
		}
	}
	// /proc/self/fd/N is followed to the parent; lsetxattr does not follow base.
	var p string
	err := x.xattrs(hdr, func(k string, v []byte) error {
		if p == "" {
			p = "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
		}
		err := unix.Lsetxattr(p, k, v, 0)
		if err == unix.EPERM && strings.HasPrefix(k, "user.") {
			// The kernel allows user.* xattrs only on files and directories.
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return setTimes(pfd, base, hdr, unix.AT_SYMLINK_NOFOLLOW)
}

// fchmodatNoFollow uses fchmodat2 (Linux 6.6) where it exists. Without it plain fchmodat is
// still safe: callers only chmod a node they just created, which is not a symlink.
func fchmodatNoFollow(pfd int, base string, mode uint32) error {
	err := unix.Fchmodat(pfd, base, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		err = unix.Fchmodat(pfd, base, mode, 0)
	}
	return err
}

func (x *extractor) whiteout(dir, base string) error {
	if base == whiteoutOpaque {
		pfd, err := x.root.parent(dir)
		if err != nil {
			return err
		}
		dfd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dfd)
		if err := x.setOpaque(dfd); err != nil {
			return fmt.Errorf("marking %s opaque: %w", display(dir), err)
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutMetaPrefix) {
		return fmt.Errorf("%w: whiteout meta name %s", ErrUnsupportedEntry, display(base))
	}
	target := base[len(whiteoutPrefix):]
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("%w: whiteout for %s", ErrUnsafePath, display(target))
	}
	pfd, err := x.root.parent(dir)
	if err != nil {
		return err
	}
	// A 0/0 character device is what overlayfs reads as "deleted below"; its owner and mode do
	// not matter. mknod of a whiteout needs no CAP_MKNOD since Linux 5.8, even in a user
	// namespace.
	err = unix.Mknodat(pfd, target, unix.S_IFCHR, 0)
	switch err {
	case unix.EEXIST:
		err = x.whiteoutOverOwn(pfd, target)
	case nil:
		x.whiteouts = true
	}
	if err != nil {
		return fmt.Errorf("whiteout for %s: %w", display(target), err)
	}
	return nil
}

// aufsMeta applies an entry of AUFS's metadata at the layer's root (aufsMeta in whiteout.go),
// dir and base its clean name split. Only the regular files right in ".wh..wh.plnk" are kept,
// aside, for the hard links to them; everything else is left out, as docker leaves it out:
// ".wh..wh.aufs", ".wh..wh.orph/...", the plnk directory itself, and in it symlinks, devices,
// links and subdirectories, which AUFS never puts there.
func (x *extractor) aufsMeta(ctx context.Context, dir, base string, hdr *tar.Header, r io.Reader) error {
	if dir != aufsLinkDir || hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeGNUSparse {
		return nil
	}
	if x.plnk == "" {
		var rnd [16]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return err
		}
		name := aufsLinkDir + "-strata-" + hex.EncodeToString(rnd[:])
		if err := unix.Mkdirat(x.root.fd, name, 0o700); err != nil {
			return fmt.Errorf("making a place for AUFS's pseudo-links: %w", err)
		}
		fd, err := unix.Openat(x.root.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Unlinkat(x.root.fd, name, unix.AT_REMOVEDIR)
			return fmt.Errorf("making a place for AUFS's pseudo-links: %w", err)
		}
		x.plnk, x.plnkFD = name, fd
		x.meta += inodeCost
	}
	return x.file(ctx, x.plnkFD, base, hdr, r)
}

// plnkLink applies a hard link to ".wh..wh.plnk/"+tbase at base in pfd: it links the file
// kept aside for that name, which a link before it in the tar has not (docker fails such a
// layer too: "Invalid aufs hardlink"). Docker writes a copy of the file for each link, with
// that file's header; a link shares its inode, content and metadata alike, as the names had
// on the aufs branch, and costs no space.
func (x *extractor) plnkLink(pfd int, base, tbase string) error {
	var err error = unix.ENOENT
	if x.plnk != "" {
		err = x.replace(pfd, base, func() error { return unix.Linkat(x.plnkFD, tbase, pfd, base, 0) })
	}
	if err == unix.ENOENT {
		return fmt.Errorf("%w: hard link to %s, which is no regular file of the layer before it", ErrUnsupportedEntry, display(aufsLinkDir+"/"+tbase))
	}
	if err != nil {
		return fmt.Errorf("to %s: %w", display(aufsLinkDir+"/"+tbase), err)
	}
	return nil
}

// dropPlnk removes the place of AUFS's pseudo-links, if the layer had one: its files stay
// only under the names that link them.
func (x *extractor) dropPlnk() error {
	if x.plnk == "" {
		return nil
	}
	unix.Close(x.plnkFD)
	name := x.plnk
	x.plnk, x.plnkFD = "", -1
	return x.root.removeAt(x.root.fd, name)
}

// setOpaque marks the directory dfd opaque.
func (x *extractor) setOpaque(dfd int) error {
	x.opaque = true
	return unix.Fsetxattr(dfd, x.opts.Whiteouts.opaqueXattr(), []byte("y"), 0)
}

// whiteoutOverOwn applies a whiteout of target, which this layer has already put in the
// directory pfd. A whiteout deletes from the layers below only: "files that are present in
// the same layer as a whiteout file can only be hidden by whiteout files in subsequent
// layers" (image-spec layer.md#whiteouts), as umoci applies it. So the layer's own entry
// stays; a directory is made opaque, which hides the lower one's content as the whiteout
// says, and anything else hides the lower name already. Removing it, as a repeated name is,
// lost the layer's own file or directory when its whiteout came after it in the tar.
func (x *extractor) whiteoutOverOwn(pfd int, target string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, target, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	dfd, err := unix.Openat(pfd, target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := x.setOpaque(dfd); err != nil {
		return fmt.Errorf("marking opaque: %w", err)
	}
	return nil
}

// finish sets the deferred directory modes and times, deepest first.
func (x *extractor) finish(ctx context.Context) error {
	// First: removing it changes the root's mtime.
	if err := x.dropPlnk(); err != nil {
		return err
	}
	if x.opts.Whiteouts != WhiteoutKeep && (x.opaque || x.root.madeOpaque) && x.whiteouts {
		// Before the directories get their modes, which may refuse reading them.
		if err := x.dropSealedWhiteouts(ctx); err != nil {
			return err
		}
	}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := &x.dirs[i]
		if d.gone {
			continue
		}
		if err := x.finishDir(d); err != nil {
			return fmt.Errorf("setting metadata of %s: %w", display(d.name), err)
		}
	}
	if x.written > 0 || len(x.dirs) > 0 {
		return x.checkSpace(ctx)
	}
	return nil
}

// realName is the path in the layer dir of the directory dfd, whose entry's name is name:
// the kernel's name for it less the layer dir's, or name where that cannot be told.
func (x *extractor) realName(dfd int, name string) string {
	if x.rootPath == "" {
		return name
	}
	var buf [unix.PathMax]byte
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(dfd), buf[:])
	if err != nil || n >= len(buf) {
		return name // no /proc, or a name readlink may have cut
	}
	rel, ok := strings.CutPrefix(string(buf[:n]), x.rootPath)
	if !ok || rel == "" || rel[0] != '/' {
		return name
	}
	return rel[1:]
}

func (x *extractor) finishDir(d *dirMeta) error {
	var dfd int
	var err error
	if d.name == "" {
		dfd, err = unix.Openat(x.root.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	} else {
		// Not parent: a parent removed by a later entry must not be recreated.
		dfd, err = x.root.openDirNoFollow(d.name)
	}
	if err == unix.ENOENT || err == unix.ELOOP || err == unix.ENOTDIR {
		// A later entry replaced the directory; its metadata went with it.
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err != nil {
		return err
	}
	if keyOf(&st) != d.key {
		// Another directory now has the name: the tar gave it metadata of its own, or
		// none (a parent made for a later entry).
		return nil
	}
	return x.setDirMeta(dfd, d)
}

// setDirMeta sets the mode, default ACL and times of the directory dfd.
func (x *extractor) setDirMeta(dfd int, d *dirMeta) error {
	if err := unix.Fchmod(dfd, d.mode); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	if d.hasDefaultACL {
		if err := x.xattrErr(aclDefault, unix.Fsetxattr(dfd, aclDefault, d.defaultACL, 0)); err != nil {
			return err
		}
	}
	if err := unix.UtimesNanoAt(dfd, "", timespecs(d.atime, d.mtime), unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// chown sets the entry's owner unless owners are ignored.
func (x *extractor) chown(fd int, name string, hdr *tar.Header, flags int) error {
	if x.opts.IgnoreOwners {
		return nil
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) > 1<<32-2 || int64(hdr.Gid) > 1<<32-2 {
		return fmt.Errorf("%w: owner %d:%d out of range", ErrUnsupportedEntry, hdr.Uid, hdr.Gid)
	}
	if err := unix.Fchownat(fd, name, hdr.Uid, hdr.Gid, flags); err != nil {
		return fmt.Errorf("setting owner %d:%d: %w", hdr.Uid, hdr.Gid, err)
	}
	return nil
}

// Xattrs in PAX records: the star/GNU tar convention (what archive/tar and docker write), and
// libarchive's (bsdtar), whose names are URL-encoded and values base64.
const (
	xattrPrefix           = "SCHILY.xattr."
	libarchiveXattrPrefix = "LIBARCHIVE.xattr."
)

// paxXattr decodes one PAX record as an xattr; ok is false for other records.
func paxXattr(k, v string) (name string, value []byte, ok bool, err error) {
	if name, ok := strings.CutPrefix(k, xattrPrefix); ok {
		return name, []byte(v), true, nil
	}
	enc, ok := strings.CutPrefix(k, libarchiveXattrPrefix)
	if !ok {
		return "", nil, false, nil
	}
	name = libarchiveUnescape(enc)
	if value, err = base64.StdEncoding.DecodeString(v); err != nil {
		// libarchive writes unpadded base64.
		if value, err = base64.RawStdEncoding.DecodeString(v); err != nil {
			return "", nil, false, fmt.Errorf("decoding xattr %s: %w", display(name), err)
		}
	}
	return name, value, true, nil
}

// libarchiveUnescape decodes an xattr name of a LIBARCHIVE.xattr. record as libarchive does
// (url_decode in archive_read_support_format_tar.c): each '%' and two hex digits is the byte
// they spell, anything else is itself. Its writer escapes only the bytes outside 33..126,
// '%' and '=' (url_encode in archive_write_set_format_pax.c), so a '+' is a '+', where a URL's
// query (url.QueryUnescape) reads a space, and a lone '%' is no error.
func libarchiveUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// xattrAllowed reports whether a layer may set the xattr name; Apply drops the others. What
// travels with images is data (user.*, trusted.*), file capabilities, POSIX ACLs, and IMA and
// EVM values, which the host checks against its own keys (signed images need them). Overlay's
// own xattrs (overlayXattr) are not the layer's to set. Other security.* names are labels of
// the host's MAC policy, which an image must not pick: Smack's SMACK64EXEC runs a program
// under the label it names, an SELinux label can be the entry point into a more privileged
// domain. Other system.* names (nfs4_acl, richacl) belong to one filesystem. umoci drops
// security.selinux and system.nfs4_acl for the same reasons (oci/layer/tar_extract.go).
func xattrAllowed(name string) bool {
	switch {
	case overlayXattr(name):
		return false
	case strings.HasPrefix(name, "user."), strings.HasPrefix(name, "trusted."):
		return true
	}
	switch name {
	case "security.capability", "security.ima", "security.evm",
		"system.posix_acl_access", "system.posix_acl_default":
		return true
	}
	return false
}

// xattrs sets the entry's xattrs with set. ENOTSUP (a filesystem without xattrs) is tolerated,
// as is EPERM on privileged namespaces when owners are ignored (not root).
//
// An xattr the records give twice gets one value, the same on every apply: the SCHILY
// record's, which docker and containerd read (they ignore libarchive's; bsdtar writes both,
// with one value), else that of the libarchive record whose key sorts first (two URL encodings
// of one name). The records are a map: in its order, whichever came last won, and the same
// layer unpacked with one value or the other.
func (x *extractor) xattrs(hdr *tar.Header, set func(k string, v []byte) error) error {
	var keys []string
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, xattrPrefix) || strings.HasPrefix(k, libarchiveXattrPrefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	// LIBARCHIVE.xattr. sorts before SCHILY.xattr.: a SCHILY record comes after any
	// libarchive one of its name, and replaces it.
	slices.Sort(keys)
	type xattr struct {
		name   string
		value  []byte
		schily bool
	}
	var list []xattr
	var index map[string]int
	for _, k := range keys {
		name, value, ok, err := paxXattr(k, hdr.PAXRecords[k])
		if err != nil {
			return err
		}
		if !ok || !xattrAllowed(name) {
			continue
		}
		schily := strings.HasPrefix(k, xattrPrefix)
		if i, dup := index[name]; dup {
			if schily {
				list[i] = xattr{name, value, true}
			}
			continue
		}
		if index == nil {
			index = map[string]int{}
		}
		index[name] = len(list)
		list = append(list, xattr{name, value, schily})
	}
	for _, a := range list {
		if err := x.xattrErr(a.name, set(a.name, a.value)); err != nil {
			return err
		}
	}
	return nil
}

// xattrErr is the error of setting the xattr name, nil where it is tolerated.
func (x *extractor) xattrErr(name string, err error) error {
	switch {
	case err == nil, err == unix.ENOTSUP:
	case err == unix.EPERM && x.opts.IgnoreOwners:
	default:
		return fmt.Errorf("setting xattr %s: %w", display(name), err)
	}
	return nil
}

func setTimes(fd int, name string, hdr *tar.Header, flags int) error {
	if err := unix.UtimesNanoAt(fd, name, timespecs(hdr.AccessTime, hdr.ModTime), flags); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// timespecs returns atime and mtime for utimensat; a tar without PAX atime gets atime = mtime.
func timespecs(atime, mtime time.Time) []unix.Timespec {
	if atime.IsZero() {
		atime = mtime
	}
	return []unix.Timespec{toTimespec(atime), toTimespec(mtime)}
}

// toTimespec avoids UnixNano, which overflows for dates a hostile tar may carry.
func toTimespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// perm is the permission part of the entry's mode, setuid, setgid and sticky included.
func perm(hdr *tar.Header) uint32 { return uint32(hdr.Mode) & 0o7777 }

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "regular file"
	case tar.TypeDir:
		return "directory"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	if t >= 0x20 && t < 0x7f {
		return fmt.Sprintf("%q", rune(t))
	}
	return fmt.Sprintf("0x%02x", t)
}
