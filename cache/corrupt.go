package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A stored blob is only ever its verified content, renamed into place whole; a blob file of
// another size or hash was damaged on disk since (a truncating copy, a full disk under a
// restore, a flipped bit). The store repairs rather than trusts such a file: a reader that
// finds one removes it, and a writer that finds one stores the blob again, so the next pull
// completes the image instead of failing on it forever.

// Has reports whether blob d is stored whole: present with the size d gives. Where the
// descriptor is known, prefer it to HasBlob: a blob truncated or grown on disk counts as
// missing, so the caller stores it again (WriteBlob and WriteImage replace it).
func (s *Store) Has(d v1.Descriptor) bool { return s.hasBlobSized(d) }

// hasBlobSized is HasBlob with the one check that costs nothing: the size.
func (s *Store) hasBlobSized(d v1.Descriptor) bool {
	p, err := s.blobPath(d.Digest)
	if err != nil {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == d.Size
}

// checkStored reports whether blob d is stored whole, for a writer that holds its ingest
// lock. A blob file whose size differs from d's is hashed: one that does not hash to its
// name is damaged and removed (false, nil: write it again); one that does is intact, and it
// is d that lies about the size (ErrSizeMismatch), so a hostile manifest cannot make the
// store drop a blob other images use.
func (s *Store) checkStored(d v1.Descriptor) (bool, error) {
	p, err := s.blobPath(d.Digest)
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.Mode().IsRegular() && fi.Size() == d.Size {
		return true, nil
	}
	if fi.Mode().IsRegular() {
		ok, err := hashesTo(p, d.Digest)
		if err != nil {
			return false, err
		}
		if ok {
			return false, fmt.Errorf("%w: stored with %d bytes, descriptor says %d", ErrSizeMismatch, fi.Size(), d.Size)
		}
	}
	// A directory is never a blob: one made there (a bad restore, a hand gone wrong) is
	// removed whole, as a file of the wrong size is, or no pull could ever repair it.
	remove := removeIfExists
	if fi.IsDir() {
		remove = os.RemoveAll
	}
	if err := remove(p); err != nil {
		return false, fmt.Errorf("removing damaged blob %s: %w", short(d.Digest), err)
	}
	return false, nil
}

// hashesTo reports whether the file at p hashes to h.
func hashesTo(p string, h v1.Hash) (bool, error) {
	f, err := openRegular(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return false, fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(sum.Sum(nil)) == h.Hex, nil
}

// discardDamaged removes blob h after a reader found that the file it read (read) does not
// hash to h. Only that file goes: one renamed into place since is a repaired blob. A blob
// whose ingest lock another process holds is being written again; it is left to that
// process. Errors are returned for the caller to join to the mismatch it reports.
func (s *Store) discardDamaged(h v1.Hash, read os.FileInfo) error {
	p, err := s.blobPath(h)
	if err != nil {
		return err
	}
	l, ok, err := tryLockBlob(filepath.Join(s.dir, ingestDir, h.Hex+".lock"))
	if err != nil || !ok {
		return err
	}
	defer l.release()
	cur, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !os.SameFile(cur, read) {
		return nil
	}
	if err := removeIfExists(p); err != nil {
		return fmt.Errorf("removing damaged blob %s: %w", short(h), err)
	}
	return nil
}

// verifyingReader reads a stored blob and ends with ErrDigestMismatch or ErrSizeMismatch
// instead of io.EOF when the file is not the blob desc names, discarding the damaged file,
// so a consumer that commits on EOF never commits it. A consumer that stops at the blob's
// size without reading to EOF (an upload with a Content-Length) gets the error instead of
// the last bytes, so it never holds the damaged blob whole either.
type verifyingReader struct {
	s    *Store
	f    *os.File
	desc v1.Descriptor
	h    hash.Hash
	n    int64
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if left := v.desc.Size - v.n; left > 0 && int64(len(p)) > left {
		p = p[:left] // stop at the size, to check the hash before giving the last bytes
	}
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if n > 0 && v.n == v.desc.Size {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.desc.Digest.Hex {
			return 0, v.damaged(fmt.Errorf("blob %s: %w: stored content hashes to sha256:%s", short(v.desc.Digest), ErrDigestMismatch, got[:12]))
		}
	}
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	switch got := hex.EncodeToString(v.h.Sum(nil)); {
	case v.n != v.desc.Size:
		return n, v.damaged(fmt.Errorf("blob %s: %w: %d bytes on disk, descriptor says %d", short(v.desc.Digest), ErrSizeMismatch, v.n, v.desc.Size))
	case got != v.desc.Digest.Hex:
		return n, v.damaged(fmt.Errorf("blob %s: %w: stored content hashes to sha256:%s", short(v.desc.Digest), ErrDigestMismatch, got[:12]))
	}
	return n, io.EOF
}

// damaged discards the file read and returns bad, joined with any error discarding it. A file
// whose size is not the descriptor's may be the blob, and the descriptor lie (a manifest a
// load stored, that lists a blob of the store with another size): it is hashed whole, and
// kept when it is the blob, as checkStored keeps it for writers. Discarded, it was the layer
// every other image of the store uses that one hostile image made the store drop.
func (v *verifyingReader) damaged(bad error) error {
	fi, err := v.f.Stat()
	if err != nil {
		return bad
	}
	if fi.Size() != v.desc.Size {
		sum := sha256.New()
		if _, err := io.Copy(sum, io.NewSectionReader(v.f, 0, fi.Size())); err != nil {
			return errors.Join(bad, fmt.Errorf("hashing blob %s: %w", short(v.desc.Digest), err))
		}
		if hex.EncodeToString(sum.Sum(nil)) == v.desc.Digest.Hex {
			return fmt.Errorf("blob %s: %w: stored with %d bytes, descriptor says %d", short(v.desc.Digest), ErrSizeMismatch, fi.Size(), v.desc.Size)
		}
	}
	return errors.Join(bad, v.s.discardDamaged(v.desc.Digest, fi))
}

func (v *verifyingReader) Close() error { return v.f.Close() }

// OpenVerified opens the stored blob desc verified as it is read: the reader fails, and the
// damaged file goes, unless its bytes are desc's size and digest. A missing blob is ErrNotFound.
func (s *Store) OpenVerified(desc v1.Descriptor) (io.ReadCloser, error) { return s.openVerified(desc) }

// openVerified opens the stored blob desc for a reader that must not get damaged content.
func (s *Store) openVerified(desc v1.Descriptor) (io.ReadCloser, error) {
	p, err := s.blobPath(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening blob: %w", err)
	}
	f, err := openRegular(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening blob %s: %w", short(desc.Digest), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", short(desc.Digest), err)
	}
	return &verifyingReader{s: s, f: f, desc: desc, h: sha256.New()}, nil
}

// storedOr returns the small blob d (a config) from the store, or from fetch when the store
// lacks it or holds it damaged; ReadBlob has then removed the damaged file, and the caller's
// writeBlob stores the fetched bytes in its place.
func (s *Store) storedOr(d v1.Descriptor, fetch func() ([]byte, error)) ([]byte, error) {
	if s.hasBlobSized(d) {
		b, err := s.ReadBlob(d.Digest, maxSmallBlob)
		if !errors.Is(err, ErrDigestMismatch) {
			return b, err
		}
	}
	return fetch()
}
