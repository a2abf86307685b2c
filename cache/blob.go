package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/ctxio"
)

// WriteBlob stores the blob desc from r: it streams r into a temp file while hashing, checks
// that the content has exactly desc.Size bytes and hashes to desc.Digest, fsyncs and renames
// it into blobs/sha256/. Until then nothing is visible under the blob's name, and a mismatch
// leaves nothing behind. If the blob is already stored (perhaps another process won the race),
// WriteBlob succeeds without reading r; a stored file of the wrong size was damaged on disk
// and is written again.
func (s *Store) WriteBlob(ctx context.Context, desc v1.Descriptor, r io.Reader) error {
	_, err := s.writeBlob(ctx, desc, r)
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", short(desc.Digest), err)
	}
	return nil
}

// writeBlob is WriteBlob that also says whether it stored anything.
func (s *Store) writeBlob(ctx context.Context, desc v1.Descriptor, r io.Reader) (written bool, err error) {
	if err := checkHash(desc.Digest); err != nil {
		return false, err
	}
	if desc.Size < 0 {
		return false, fmt.Errorf("%w: negative size %d", ErrSizeMismatch, desc.Size)
	}
	if s.hasBlobSized(desc) {
		return false, nil
	}
	// The ingest lock keeps Prune from removing the temp file while it is written.
	lock, err := s.lockBlob(ctx, desc.Digest.Hex)
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, lock.release()) }()
	if ok, err := s.checkStored(desc); ok || err != nil {
		return false, err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, ingestDir), desc.Digest.Hex+".tmp-*")
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, removeIfExists(f.Name()))
		}
	}()
	h := sha256.New()
	// One byte more than the size, to tell "too long" from "exactly right".
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(ctxio.NewReader(ctx, r), desc.Size+1))
	if err != nil {
		f.Close()
		return false, err
	}
	if n != desc.Size {
		f.Close()
		if n > desc.Size {
			return false, fmt.Errorf("%w: more than the %d bytes expected", ErrSizeMismatch, desc.Size)
		}
		return false, fmt.Errorf("%w: got %d bytes, want %d", ErrSizeMismatch, n, desc.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != desc.Digest.Hex {
		f.Close()
		return false, fmt.Errorf("%w: content hashes to sha256:%s", ErrDigestMismatch, got[:12])
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	blob, _ := s.blobPath(desc.Digest)
	if err := os.Rename(f.Name(), blob); err != nil {
		return false, err
	}
	return true, syncDir(filepath.Dir(blob))
}
