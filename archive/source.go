package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/ctxio"
)

// errMissing is wrapped when an entry an image needs is not in the archive.
var errMissing = errors.New("missing from the archive")

// entry is one regular file of an archive, wherever its bytes are now.
type entry struct {
	name string
	// path is the file holding the content: a staged copy or a file of a layout directory.
	path string
	size int64
	// digest is the sha256 of the content when it is known: computed while staging, or
	// claimed by a blobs/sha256/<hex> name (and then checked by WriteBlob).
	digest v1.Hash
	// inStore: the store already holds this blob, so its bytes were not staged.
	inStore bool
	// staged: path is a copy in the staging directory, Load's own to remove.
	staged bool
	// root, for an entry of a layout directory, is that directory: the file is opened
	// beneath it by name, so a directory swapped for a symlink after lookup leads nowhere.
	root *os.Root
}

// source finds the entries of an archive by name.
type source interface {
	lookup(name string) (*entry, error)
}

// stagedSource is a tar stream read into a staging directory.
type stagedSource struct {
	byName map[string]*entry
	// sameFS: the staging directory is on the store's filesystem, so removing a staged
	// copy gives back the room its blob takes in the store.
	sameFS bool
	// dangling are the symlinks that lead to no file of the archive, with their targets.
	dangling map[string]string
}

// lookup cleans name as entry names were cleaned: a manifest.json naming "./<id>/layer.tar"
// finds it, and one naming a path outside the archive is refused as such, not just missed.
func (s *stagedSource) lookup(name string) (*entry, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	if e, ok := s.byName[clean]; ok {
		return e, nil
	}
	if target, ok := s.dangling[clean]; ok {
		return nil, fmt.Errorf("%w: %s links to %s, which is not a file of the archive", ErrUnsafeEntry, clean, quoted(target))
	}
	return nil, fmt.Errorf("%s: %w", name, errMissing)
}

// dirSource is a layout directory, read in place.
type dirSource struct {
	dir  string
	root *os.Root
	// found keeps each entry looked up, by the name of the file it is (a symlink's
	// target), and with it the digest hash computes: a manifest.json may list one
	// layer.tar thousands of times, or under thousands of links, and each would be read
	// whole again. open still checks the file each time.
	found map[string]*entry
	// byFile is found by file identity, for the entries whose name claims no digest.
	byFile map[fileID]*entry
}

// fileID identifies a file: its device and inode.
type fileID struct{ dev, ino uint64 }

func (s *dirSource) lookup(name string) (*entry, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	target, err := s.resolve(name, clean)
	if err != nil {
		return nil, err
	}
	e, ok := s.found[target]
	if !ok {
		var id fileID
		if e, id, err = s.lookupOnce(name, target); err != nil {
			return nil, err
		}
		if e.digest.Hex == "" && id != (fileID{}) {
			// Hard links are one file under many names, hashed once: an unpacked archive
			// can hold a thousand of them to one layer.tar of gigabytes.
			if same, ok := s.byFile[id]; ok && same.size == e.size {
				e = same
			} else {
				if s.byFile == nil {
					s.byFile = map[fileID]*entry{}
				}
				s.byFile[id] = e
			}
		}
		if s.found == nil {
			s.found = map[string]*entry{}
		}
		s.found[target] = e
	}
	if h, ok := blobDigest(clean); ok && h != e.digest {
		// A blob name claims its digest, whatever file it leads to; WriteBlob checks it.
		alias := *e
		alias.digest = h
		return &alias, nil
	}
	return e, nil
}

// resolve returns the name of the file clean leads to inside the directory: clean itself,
// or the target of the symlink it is, followed through other symlinks. docker save before
// version 25 writes a layer.tar shared by two layer directories once, and the other as a
// symlink to it ("../<id>/layer.tar"), which tar xf keeps. A link is followed only to a
// relative target inside the directory, as a tar stream's links are; one to an absolute
// path or out of the directory is refused, never followed. The directories on the way
// must not be symlinks (checked in lookupOnce).
func (s *dirSource) resolve(name, clean string) (string, error) {
	cur := clean
	for hop := 0; ; hop++ {
		if err := s.plainDirs(name, cur); err != nil {
			return "", err
		}
		fi, err := s.root.Lstat(cur)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return cur, nil // lookupOnce says what is wrong with it
		}
		if hop == maxLinkHops {
			return "", fmt.Errorf("%w: %s: more than %d symlinks in a row", ErrUnsafeEntry, name, maxLinkHops)
		}
		link, err := s.root.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		next := link
		if !path.IsAbs(link) {
			next = path.Join(path.Dir(cur), link)
		}
		if next, err = cleanName(next); err != nil {
			return "", fmt.Errorf("%w: %s links to %s, outside the directory", ErrUnsafeEntry, name, quoted(link))
		}
		cur = next
	}
}

// plainDirs refuses a name whose directories, inside the layout, are not all directories:
// SecureJoin resolves symlinks inside dir, and a layout has none on the way to a file, so
// one that changed the path is refused rather than followed.
func (s *dirSource) plainDirs(name, clean string) error {
	parent := path.Dir(clean)
	p, err := securejoin.SecureJoin(s.dir, parent)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if p != filepath.Join(s.dir, parent) {
		return fmt.Errorf("%w: %s goes through a symlink", ErrUnsafeEntry, name)
	}
	return nil
}

// lookupOnce is lookup of the file named clean, not looked up before.
func (s *dirSource) lookupOnce(name, clean string) (*entry, fileID, error) {
	if err := s.plainDirs(name, clean); err != nil {
		return nil, fileID{}, err
	}
	p := filepath.Join(s.dir, clean)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fileID{}, fmt.Errorf("%s: %w", name, errMissing)
	}
	if err != nil {
		return nil, fileID{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fileID{}, fmt.Errorf("%w: %s is not a regular file", ErrUnsafeEntry, name)
	}
	e := &entry{name: clean, path: p, size: fi.Size(), root: s.root}
	if h, ok := blobDigest(clean); ok {
		e.digest = h
	}
	var id fileID
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id = fileID{dev: uint64(st.Dev), ino: st.Ino}
	}
	return e, id, nil
}

// open opens an entry's file without following a symlink planted in its place, and checks
// that it is still the regular file of the size planned with: a layout directory is read
// in place, and whoever can write to it can swap a checked file for a FIFO (O_NONBLOCK: the
// open must not hang on it), a device or a bigger file between lookup and open.
func (e *entry) open() (*os.File, error) {
	const flags = os.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK
	var f *os.File
	var err error
	if e.root != nil {
		f, err = e.root.OpenFile(e.name, flags, 0)
	} else {
		f, err = os.OpenFile(e.path, flags, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", e.name, err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("opening %s: %w", e.name, err)
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%w: %s is not a regular file", ErrUnsafeEntry, e.name)
	case fi.Size() != e.size:
		err = fmt.Errorf("%s: %w: %d bytes, %d when it was planned; it changed while loading", e.name, cache.ErrSizeMismatch, fi.Size(), e.size)
	}
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

// readSmall reads a JSON entry whole, refusing one over max bytes, so a hostile manifest.json
// cannot make Load buffer gigabytes.
func (e *entry) readSmall(max int64) ([]byte, error) {
	if e.size > max {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d allowed", e.name, e.size, max)
	}
	f, err := e.open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", e.name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than the %d bytes allowed", e.name, max)
	}
	return b, nil
}

// readJSON reads a config whole, within max bytes, and returns it with its digest, computed
// from the bytes read: a config of a layout directory, which may be a sparse file of a
// terabyte, is never hashed past the bound, and what is parsed is what was hashed.
func (e *entry) readJSON(max int64) ([]byte, v1.Hash, error) {
	raw, err := e.readSmall(max)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	h := sha256Hash(raw)
	if e.digest.Hex != "" && e.digest != h {
		return nil, v1.Hash{}, fmt.Errorf("%s: %w: content hashes to %s", e.name, cache.ErrDigestMismatch, short(h))
	}
	e.digest = h
	return raw, h, nil
}

// hash computes the entry's sha256 when neither staging nor its name gave one: a layer.tar of
// an old docker archive in a directory, which may take minutes, so ctx stops it.
func (e *entry) hash(ctx context.Context) (v1.Hash, error) {
	if e.digest.Hex != "" {
		return e.digest, nil
	}
	f, err := e.open()
	if err != nil {
		return v1.Hash{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxio.NewReader(ctx, f)); err != nil {
		return v1.Hash{}, fmt.Errorf("hashing %s: %w", e.name, err)
	}
	e.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	return e.digest, nil
}

// head returns the first bytes of an entry, to tell gzip and zstd layers from plain tars.
func (e *entry) head(n int) ([]byte, error) {
	f, err := e.open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", e.name, err)
	}
	return b[:m], nil
}

// Magic numbers of the layer compressions image-spec layer.md allows.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func isGzip(b []byte) bool { return bytes.HasPrefix(b, gzipMagic) }
func isZstd(b []byte) bool { return bytes.HasPrefix(b, zstdMagic) }
