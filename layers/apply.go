package layers

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// copyBufSize is the chunk size for file content: big enough that each write(2) moves a lot,
// small enough to stay in cache.
const copyBufSize = 256 << 10

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// Apply decompresses r (gzip, zstd or plain tar, as the stream's magic bytes say; opts.MediaType
// must be a layer media type), applies the tar into dir, which must exist and should be empty, and
// returns the DiffID: the sha256 of the whole uncompressed tar, computed in the same pass.
//
// The stream is read to its end (trailing zero blocks and padding included) so that the DiffID
// covers every byte. When opts.ExpectDiffID is set a different DiffID fails with
// ErrDiffIDMismatch (the computed DiffID is returned with it). Errors name the entry being
// applied; on any error dir is left half-applied and the caller removes it.
//
// Decompression and hashing run one step ahead in a goroutine; Apply returns only after it has
// stopped, so r is the caller's again (Apply does not close it). Canceling ctx stops Apply
// within the read-ahead's 1 MiB of the uncompressed stream, after a Read on r in progress
// returns.
func Apply(ctx context.Context, dir string, r io.Reader, opts Options) (diffID v1.Hash, err error) {
	maxSize := opts.maxSize()
	rc, err := decompress(r, opts.MediaType, maxSize)
	if err != nil {
		return v1.Hash{}, err
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing layer stream: %w", cerr)
		}
	}()

	x, err := newExtractor(ctx, dir, &opts)
	if err != nil {
		return v1.Hash{}, err
	}
	defer func() {
		if cerr := x.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()

	h := sha256.New()
	ra := newReadAhead(ctx, rc, h)
	err = applyTar(ctx, x, ra, &opts)
	ra.close() // before h.Sum and rc.Close: the read-ahead goroutine uses both
	if err != nil {
		return v1.Hash{}, err
	}
	got := hashOf(h)
	if want := opts.ExpectDiffID; want != (v1.Hash{}) && got != want {
		return got, fmt.Errorf("%w: layer has %s, config says %s", ErrDiffIDMismatch, got, want)
	}
	return got, nil
}

// applyTar reads every entry from the uncompressed stream into x, then drains the stream.
func applyTar(ctx context.Context, x *extractor, r io.Reader, opts *Options) error {
	// Under the tar Reader, so that sparse entries can be read without their holes
	// (sparsemap.go).
	raw := &rawReader{r: r}
	tr := tar.NewReader(raw)
	maxEntries := opts.maxEntries()
	entries := 0
	last := ""
	for {
		raw.startNext()
		hdr, err := tr.Next()
		raw.endNext()
		if err == io.EOF {
			break
		}
		if err != nil {
			if last == "" {
				return fmt.Errorf("reading first tar header: %w", err)
			}
			return fmt.Errorf("reading tar header after %s: %w", display(last), err)
		}
		entries++
		if entries > maxEntries {
			return fmt.Errorf("%w: more than %d", ErrTooManyEntries, maxEntries)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		last = hdr.Name
		if opts.Entry != nil && hdr.Typeflag != tar.TypeXGlobalHeader {
			skip, err := opts.Entry(hdr)
			if err != nil {
				return err
			}
			if skip {
				// archive/tar skips its content at the next Next, a sparse entry's holes unread.
				x.entries = entries
				continue
			}
		}
		var content io.Reader = tr
		sparse := sparseContentOf(raw, hdr)
		if sparse != nil {
			content = sparse
		}
		err = x.entry(ctx, hdr, content)
		if err == nil && sparse != nil {
			err = sparse.finish()
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", verb(hdr), display(hdr.Name), err)
		}
		x.entries = entries
	}
	// The tar reader stops after the first zero blocks; the rest of the record (and anything a
	// writer appended) is still part of the DiffID.
	if opts.Entry == nil {
		buf := copyBufPool.Get().(*[]byte)
		_, err := io.CopyBuffer(io.Discard, r, *buf)
		copyBufPool.Put(buf)
		if err != nil {
			return fmt.Errorf("reading the end of the tar: %w", err)
		}
	}
	if err := x.finish(ctx); err != nil {
		return err
	}
	if opts.Progress != nil {
		opts.Progress(x.written, entries)
	}
	return nil
}

// verb says what an entry was doing, for error messages.
func verb(hdr *tar.Header) string {
	switch hdr.Typeflag {
	case tar.TypeLink:
		return "linking"
	case tar.TypeSymlink:
		return "creating symlink"
	}
	return "creating"
}

func hashOf(h hash.Hash) v1.Hash {
	var sum [sha256.Size]byte
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(sum[:0]))}
}
