package snapshotter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/safefile"
)

// provenDir holds the blobs proven to be each layer: <root>/.proven/<DiffID hex>-<blob hex>,
// an empty file, says that blob decompresses to the tar that hashes to DiffID, so the layer
// dir of DiffID is that blob's content. A layer dir is checked against the stream it is
// unpacked from, but an image may pair another blob with the same DiffID (stored by a pull
// --no-unpack, a load, another platform, while the DiffID was not unpacked here): the layer
// dir is not that blob's content, and a run would use the one while save and push write the
// other. Users of a layer dir for a blob (Ensure, Check) look for its proof, and make it (by
// hashing the blob) when it is missing. It is a fact about two digests, true for as long as
// both exist; Prune removes those of layers that are gone. One flat dir of empty files: they
// take an inode each and no block, where a dir per layer took a block per layer.
const provenDir = ".proven"

// Proven reports whether blob was proven to be diffID's layer (unpacked from it, or hashed
// against it since). A DiffID or blob digest that is not a well-formed sha256 is never proven.
func (s *Snapshotter) Proven(diffID, blob v1.Hash) bool {
	p := s.proofPath(diffID, blob)
	if p == "" {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

func (s *Snapshotter) proofPath(diffID, blob v1.Hash) string {
	if validDiffID(diffID) != nil || validDiffID(blob) != nil {
		return ""
	}
	return filepath.Join(s.root, provenDir, diffID.Hex+"-"+blob.Hex)
}

// UnpackBlob is Unpack of the stream of blob, which the caller checks is that blob (r ends
// with EOF only once its digest is verified, as cache.LayerFunc's streams do): once the
// stream is diffID's layer, unpacked or hashed against the layer dir here, blob is recorded
// as proven to be it.
func (s *Snapshotter) UnpackBlob(ctx context.Context, diffID v1.Hash, blob v1.Descriptor, r io.Reader) error {
	if err := s.Unpack(ctx, diffID, blob.MediaType, r); err != nil {
		return err
	}
	return s.prove(diffID, blob.Digest)
}

// Check makes sure that, where diffID's layer dir exists, blob is that layer: proven before,
// or opened (open must return the blob's bytes, verified against its digest as they are
// read) and hashed against diffID now, then recorded. A blob that is not the layer fails
// with ErrDiffIDMismatch and is not recorded; one that passes is recorded where the store
// can be written. Without the layer dir there is nothing here
// the blob could be taken for: nil, and open is not called. Save and push check each layer
// of what they write this way.
func (s *Snapshotter) Check(ctx context.Context, diffID v1.Hash, blob v1.Descriptor, open func() (io.ReadCloser, error)) (err error) {
	if err := validDiffID(diffID); err != nil {
		return fmt.Errorf("checking layer: %w", err)
	}
	if !s.Has(diffID) || s.Proven(diffID, blob.Digest) {
		return nil
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("checking layer %s: opening: %w", short(diffID), err)
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("checking layer %s: closing: %w", short(diffID), cerr)
		}
	}()
	if err := s.verify(ctx, diffID, blob.MediaType, rc); err != nil {
		return fmt.Errorf("checking layer %s: blob %s: %w", short(diffID), short(blob.Digest), err)
	}
	// Save and push only read the store, which may be read-only or full: a proof that cannot
	// be written costs the same hash next time, and fails nothing the blob passed.
	_ = s.prove(diffID, blob.Digest)
	return nil
}

// prove records blob as proven to be diffID's layer: an empty file written aside, synced and
// renamed into place, its dir synced, so a crash leaves the proof whole or absent.
func (s *Snapshotter) prove(diffID, blob v1.Hash) (err error) {
	p := s.proofPath(diffID, blob)
	if p == "" {
		return nil // a digest no proof can name: it stays unproven, and is checked each time
	}
	if s.Proven(diffID, blob) {
		return nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("recording blob %s as layer %s: %w", short(blob), short(diffID), err)
		}
	}()
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := safefile.OwnDirs("the layer store", dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
	}()
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return err
	}
	return syncDir(dir, false)
}

// proofTmpMaxAge is how old a proof's temporary file must be before Prune takes it for a
// crash's leftover rather than another process's proof being written.
const proofTmpMaxAge = 10 * time.Minute

// pruneProofs removes the proofs of layers that have no layer dir (pruned, or never
// unpacked here), and the temporary files of proofs a crash left.
func (s *Snapshotter) pruneProofs() error {
	return s.pruneSidecars(provenDir, "proof", func(name string) bool {
		return len(name) > 64 && name[64] == '-' && s.Has(v1.Hash{Algorithm: "sha256", Hex: name[:64]})
	})
}

// pruneSidecars removes from the dir sub of the root what kept says belongs to no layer dir
// any more (a proof, a fingerprint: what names one), and the temporary files a crash left
// there, once older than proofTmpMaxAge (younger ones are another process's, being written).
func (s *Snapshotter) pruneSidecars(sub, what string, kept func(name string) bool) error {
	dir := filepath.Join(s.root, sub)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pruning %ss: %w", what, err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < proofTmpMaxAge {
				continue
			}
		} else if kept(name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("pruning %s %s: %w", what, name, err))
		}
	}
	return errors.Join(errs...)
}
