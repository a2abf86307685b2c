package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/strata-run/strata/internal/ctxio"
	"github.com/strata-run/strata/internal/freespace"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
)

// maxEntries bounds the entries of one archive, and with them the memory the name table takes.
// An image of 127 layers saved by old docker is under 400 entries.
const maxEntries = 100_000

// maxNameBytes bounds the bytes of all the names an archive's entries are kept by: maxEntries
// names of PATH_MAX each would be 400 MiB of memory (700 MiB of heap measured) from a
// gzipped archive of a few MB. Real entry names are under 100 bytes: a blob path is 77.
const maxNameBytes = 16 << 20

// maxHeaderBytes bounds the bytes of tar headers an archive may have, beyond its entries'
// data: archive/tar reads PAX and GNU long-name headers in a loop until a header that names
// an entry, so a stream of nothing but such headers (a gzip of a few MB unpacks to GBs of
// them) was read to its end, without a cancel reaching it. A real archive has one 512-byte
// header per entry, and a PAX one for long names: 100000 entries take a few tens of MB.
const maxHeaderBytes = 256 << 20

// copyBufSize is the buffer for streaming blobs: larger than io.Copy's 32 KiB, fewer syscalls.
const copyBufSize = 1 << 20

// Bounds on what a tar stream may stage. A compressed archive can expand a thousandfold (a
// gzip bomb: a few MB of zeros that unpack to terabytes), and every byte of it is staged
// before its digest can fail, so staging stops at LoadOptions.MaxSize and before it leaves
// the disk less than its floor (freespace.Floor) free for everything else, as layers.Apply does.
const (
	DefaultMaxSize int64 = 64 << 30
)

// ErrTooLarge is returned by Load for an archive that stages more than LoadOptions.MaxSize
// bytes, or more than the staging disk has room for.
var ErrTooLarge = errors.New("archive too large")

// stager reads a tar stream into a staging directory, one file per distinct content.
type stager struct {
	store    *cache.Store
	dir      string
	progress func(Event)
	src      stagedSource
	byDigest map[v1.Hash]*entry
	buf      []byte
	// staged counts the bytes written to dir, against maxSize; unchecked counts those
	// written since the last look at the free space.
	staged, maxSize, unchecked int64
	// interval is how many staged bytes pass between two statfs calls (0: at the first).
	interval int64
	// nameBytes counts the bytes of the names in src, against maxNameBytes.
	nameBytes int
	// links are the symlinks to entries not read yet, by name: their targets, cleaned.
	// docker save before version 25 links a layer.tar shared by two of its layer
	// directories to the first one written, and tars the directories in the order of their
	// names, so the link comes before its target as often as not. They are resolved once the
	// whole stream is read (resolveLinks).
	links map[string]string
}

// keep adds e to the entries found by name, within maxNameBytes.
func (st *stager) keep(name string, e *entry) error {
	if st.nameBytes += len(name); st.nameBytes > maxNameBytes {
		return fmt.Errorf("the names of its entries take more than %d MiB", maxNameBytes>>20)
	}
	st.src.byName[name] = e
	return nil
}

// stage reads the whole tar stream r. Blobs the store already has are skipped unread; every
// other regular entry is copied into dir while hashed, and a blobs/sha256/<hex> entry whose
// content does not hash to its name fails the load right there.
func stage(ctx context.Context, store *cache.Store, r io.Reader, dir string, maxSize int64, progress func(Event)) (*stagedSource, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	st := &stager{
		maxSize:  maxSize,
		store:    store,
		dir:      dir,
		progress: progress,
		src:      stagedSource{byName: map[string]*entry{}},
		byDigest: map[v1.Hash]*entry{},
		buf:      make([]byte, copyBufSize),
	}
	in := &headerReader{r: ctxio.NewReader(ctx, r), left: maxHeaderBytes}
	tr := tar.NewReader(in)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Every entry's data was read to its end below, so what Next reads is headers
		// (and the padding after the data), counted against maxHeaderBytes.
		in.inHeader = true
		hdr, err := tr.Next()
		in.inHeader = false
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return nil, errors.New("reading archive: empty, not a tar archive")
			}
			if err := st.resolveLinks(); err != nil {
				return nil, fmt.Errorf("reading archive: %w", err)
			}
			return &st.src, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		if n >= maxEntries {
			return nil, fmt.Errorf("reading archive: more than %d entries", maxEntries)
		}
		if err := st.add(ctx, hdr, tr); err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		// What add did not read (a blob the store has, an entry sharing staged content).
		if _, err := io.CopyBuffer(io.Discard, tr, st.buf); err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
	}
}

func (st *stager) add(ctx context.Context, hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return nil
	case tar.TypeReg, tar.TypeRegA:
		if sparse(hdr) {
			return fmt.Errorf("%w: %s is a sparse file of %d bytes", ErrUnsafeEntry, name, hdr.Size)
		}
		if st.taken(name) {
			return fmt.Errorf("%w: %s appears twice", ErrUnsafeEntry, name)
		}
		e, err := st.file(ctx, name, hdr.Size, r)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := st.keep(name, e); err != nil {
			return err
		}
		report(st.progress, Event{Kind: Read, Name: name, Digest: e.digest, Size: e.size})
		return nil
	case tar.TypeSymlink, tar.TypeLink:
		return st.link(name, hdr)
	case tar.TypeGNUSparse:
		return fmt.Errorf("%w: %s is a sparse file of %d bytes", ErrUnsafeEntry, name, hdr.Size)
	}
	return fmt.Errorf("%w: %s has type %q", ErrUnsafeEntry, name, hdr.Typeflag)
}

// sparse reports whether hdr is a GNU sparse file in PAX form, which archive/tar hands out as a
// regular file of its full size, holes read as zeros: one header of a few hundred bytes can
// claim a terabyte, and staging would write every zero of it (a gzip bomb expands a
// thousandfold; this one without bound). No tool writes a blob of an image archive sparse.
func sparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// link makes name another name for an earlier regular entry. Old docker archives link a
// layer.tar shared by two images to the first copy ("../<id>/layer.tar"); a link to anything
// else (an absolute path, outside the archive, a later entry, a directory) is refused. No link
// is ever created on disk: the name just maps to the same staged file.
func (st *stager) link(name string, hdr *tar.Header) error {
	target := hdr.Linkname
	if hdr.Typeflag == tar.TypeSymlink && !path.IsAbs(target) {
		target = path.Join(path.Dir(name), target)
	}
	clean, err := cleanName(target)
	if err != nil {
		if len(target) > maxNameLen {
			return fmt.Errorf("%w: %s links to a path of %d bytes", ErrUnsafeEntry, name, len(target))
		}
		return fmt.Errorf("%w: %s links to %q", ErrUnsafeEntry, name, hdr.Linkname)
	}
	if st.taken(name) {
		return fmt.Errorf("%w: %s appears twice", ErrUnsafeEntry, name)
	}
	e, ok := st.src.byName[clean]
	if !ok {
		if hdr.Typeflag == tar.TypeLink {
			// A hard link names an earlier entry, or tar itself cannot extract it.
			return fmt.Errorf("%w: %s links to %q, which is not an earlier file of the archive", ErrUnsafeEntry, name, hdr.Linkname)
		}
		// A symlink may come before its target: resolved at the end of the stream.
		if st.nameBytes += len(name) + len(clean); st.nameBytes > maxNameBytes {
			return fmt.Errorf("the names of its entries take more than %d MiB", maxNameBytes>>20)
		}
		if st.links == nil {
			st.links = map[string]string{}
		}
		st.links[name] = clean
		return nil
	}
	if err := linkedBlob(name, clean, e); err != nil {
		return err
	}
	alias := *e
	alias.name = name
	return st.keep(name, &alias)
}

// linkedBlob refuses a link named as a blob that leads to other content than that blob's.
func linkedBlob(name, target string, e *entry) error {
	if h, ok := blobDigest(name); ok && h != e.digest {
		return fmt.Errorf("%s: %w: links to %s, content with digest %s", name, cache.ErrDigestMismatch, quoted(target), short(e.digest))
	}
	return nil
}

// taken reports whether an entry of the archive already has name.
func (st *stager) taken(name string) bool {
	_, file := st.src.byName[name]
	_, link := st.links[name]
	return file || link
}

// maxLinkHops bounds a chain of symlinks, as the kernel bounds one (ELOOP).
const maxLinkHops = 40

// resolveLinks makes each symlink to a later entry another name for the file it leads to,
// through other symlinks if need be. One that leads to no file of the archive (nothing of
// that name, a directory, a loop) is left out, as a dangling link: an image that names it
// fails as it would for a missing entry, with the link's target said.
func (st *stager) resolveLinks() error {
	names := make([]string, 0, len(st.links))
	for name := range st.links {
		names = append(names, name)
	}
	slices.Sort(names) // the same archive fails with the same error
	for _, name := range names {
		target := st.links[name]
		for hop := 0; hop < maxLinkHops; hop++ {
			if e, ok := st.src.byName[target]; ok {
				if err := linkedBlob(name, target, e); err != nil {
					return err
				}
				// Kept under name without counting it again (link counted it).
				alias := *e
				alias.name = name
				st.src.byName[name] = &alias
				break
			}
			next, ok := st.links[target]
			if !ok {
				break
			}
			target = next
		}
		if _, ok := st.src.byName[name]; !ok {
			if st.src.dangling == nil {
				st.src.dangling = map[string]string{}
			}
			st.src.dangling[name] = st.links[name]
		}
	}
	st.links = nil
	return nil
}

// file stages one regular entry.
func (st *stager) file(ctx context.Context, name string, size int64, r io.Reader) (*entry, error) {
	want, isBlob := blobDigest(name)
	if isBlob {
		// Small blobs (manifests, configs) are staged all the same: they cost nothing, and
		// the plan, which reads and verifies them, then has the archive's copy should the
		// store's turn out damaged.
		if size > maxJSON && st.store.Has(v1.Descriptor{Digest: want, Size: size}) {
			// Not staged: its bytes are read from the store if the plan needs them.
			return &entry{name: name, path: st.store.BlobPath(want), size: size, digest: want, inStore: true}, nil
		}
		if e, ok := st.byDigest[want]; ok {
			alias := *e
			alias.name = name
			return &alias, nil
		}
	}
	if e, ok := st.byDigest[emptyDigest]; ok && size == 0 && (!isBlob || want == emptyDigest) {
		// A tar of empty files (a hundred thousand of them, from a hostile archive) costs
		// no file each: they all share one. An empty blob entry named by another digest
		// is staged below, and fails its check there.
		alias := *e
		alias.name = name
		return &alias, nil
	}
	f, err := os.Create(filepath.Join(st.dir, strconv.Itoa(len(st.src.byName))))
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(&boundedWriter{st: st, w: f}, h), ctxio.NewReader(ctx, r), st.buf)
	err = errors.Join(err, f.Close())
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if n != size {
		return nil, fmt.Errorf("%w: read %d bytes, header says %d", cache.ErrSizeMismatch, n, size)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if isBlob && got != want {
		return nil, fmt.Errorf("%w: content hashes to %s", cache.ErrDigestMismatch, short(got))
	}
	if e, ok := st.byDigest[got]; ok {
		// The same content under two names (old docker archives repeat shared layers):
		// keep one copy.
		if err := os.Remove(f.Name()); err != nil {
			return nil, err
		}
		alias := *e
		alias.name = name
		return &alias, nil
	}
	e := &entry{name: name, path: f.Name(), size: n, digest: got, staged: true}
	st.byDigest[got] = e
	return e, nil
}

// boundedWriter writes a staged file, failing with ErrTooLarge once the archive has staged
// more than its bound or the disk runs low.
type boundedWriter struct {
	st *stager
	w  io.Writer
}

func (b *boundedWriter) Write(p []byte) (int, error) {
	st := b.st
	if st.staged+int64(len(p)) > st.maxSize {
		return 0, fmt.Errorf("%w: more than %d bytes once unpacked", ErrTooLarge, st.maxSize)
	}
	if st.unchecked += int64(len(p)); st.unchecked >= st.interval {
		st.unchecked = 0
		st.interval = freespace.MaxCheckInterval
		var fs unix.Statfs_t
		if err := unix.Statfs(st.dir, &fs); err == nil {
			floor := freespace.OfBlocks(fs.Blocks, fs.Bsize)
			st.interval = freespace.CheckInterval(floor)
			if free := int64(fs.Bavail) * fs.Bsize; free-int64(len(p)) < floor {
				return 0, fmt.Errorf("%w: staging it would leave less than %s free in %s", ErrTooLarge, mib(floor), st.dir)
			}
		}
	}
	n, err := b.w.Write(p)
	st.staged += int64(n)
	return n, err
}

// emptyDigest is the sha256 of no bytes.
var emptyDigest = sha256Hash(nil)

// headerReader is the tar stream, reading at most left bytes while inHeader: archive/tar's
// Next does not return between the headers it loops over, so the bound is kept here.
type headerReader struct {
	r        io.Reader
	inHeader bool
	left     int64
}

var errTooManyHeaders = fmt.Errorf("more than %d MiB of tar headers", maxHeaderBytes>>20)

func (h *headerReader) Read(p []byte) (int, error) {
	if !h.inHeader {
		return h.r.Read(p)
	}
	if h.left <= 0 {
		return 0, errTooManyHeaders
	}
	if int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	h.left -= int64(n)
	return n, err
}
