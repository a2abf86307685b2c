package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/strata-run/strata/internal/freespace"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ingest downloads one blob into ingest/<hex>.partial and, once verified, renames it to its
// blob path. The tee, if not nil, receives every byte of the blob exactly once and in order:
// first the bytes already in the partial file, then what fetch returns.
type ingest struct {
	desc    v1.Descriptor
	fetch   Fetcher
	tee     io.Writer
	retries int
	// maxAttempts bounds the fetches of the blob, progress or not; 0 means maxFetchAttempts.
	maxAttempts int
	// event reports progress; never nil.
	event func(kind EventKind, current int64, err error)
	// locked, if set, is called once the blob's lock is held, before anything is read or
	// written: whoever consumes tee starts there (see writeLayer).
	locked func()
}

// ingestResult says what ingest did.
type ingestResult struct {
	// existed is true when the blob was found complete once the lock was held: another process
	// stored it while this one waited. Nothing was sent to the tee.
	existed bool
	// fetched counts bytes read from fetch, not replayed from the partial file.
	fetched int64
	// restart is set when the download resumed a partial file and failed in a way its bytes
	// may have caused: the tee (a layer's unpack) refused the stream, or the whole blob did
	// not hash to its digest. The partial has been removed; one more ingest starts over.
	restart bool
}

// teeError marks an error of the tee, so that ingest does not retry it as a dropped connection.
type teeError struct{ err error }

func (e *teeError) Error() string { return e.err.Error() }
func (e *teeError) Unwrap() error { return e.err }

// diskError marks an error writing the partial file (ENOSPC, EIO): retrying the fetch cannot help.
type diskError struct{ err error }

func (e *diskError) Error() string { return e.err.Error() }
func (e *diskError) Unwrap() error { return e.err }

// emptyHex is the SHA-256 of no bytes.
const emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (s *Store) ingest(ctx context.Context, in ingest) (res ingestResult, err error) {
	d := in.desc.Digest
	if err := checkHash(d); err != nil {
		return res, err
	}
	if in.desc.Size < 0 {
		return res, fmt.Errorf("%w: negative size %d", ErrSizeMismatch, in.desc.Size)
	}
	// Only empty content is 0 bytes: any other digest with size 0 is a wrong size, which
	// reading none of the blob reported as a digest mismatch, the hash of nothing.
	if in.desc.Size == 0 && d.Hex != emptyHex {
		return res, fmt.Errorf("%w: the manifest gives 0 bytes, and only empty content (sha256:%s) has that size", ErrSizeMismatch, emptyHex[:12])
	}
	lock, err := s.lockBlob(ctx, d.Hex)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, lock.release()) }()
	if in.locked != nil {
		in.locked()
	}
	if ok, err := s.checkStored(in.desc); ok || err != nil {
		res.existed = ok
		return res, err
	}

	partial := filepath.Join(s.dir, ingestDir, d.Hex+".partial")
	// O_NOFOLLOW: a symlink planted in ingest/ must not make the download write elsewhere.
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return res, err
	}
	defer func() {
		if f != nil {
			err = errors.Join(err, f.Close())
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return res, err
	}
	if !fi.Mode().IsRegular() {
		// A FIFO would block the download's writes forever, a device take them elsewhere.
		return res, fmt.Errorf("%s is not a regular file; remove it", partial)
	}
	off := fi.Size()
	if off > in.desc.Size {
		// Longer than the blob can be: not a prefix of it. Start over.
		if err := f.Truncate(0); err != nil {
			return res, err
		}
		off = 0
	}

	// A partial file is a prefix of the blob only as far as the disk kept what was written:
	// it is not synced until complete, so a crash can leave zeros or stale blocks in it. The
	// digest finds that at the end, but a layer's unpack fed the replayed bytes refuses them
	// first, and the partial, kept for that failure, failed every later pull the same way.
	// When a resumed download fails so, the partial goes (unless the pull was cancelled,
	// which the unpack reports too) and the caller starts over once.
	resumed := off > 0
	dropSuspect := func(err error) error {
		var te *teeError
		if !resumed || !errors.As(err, &te) || ctx.Err() != nil {
			return err
		}
		cerr := f.Close()
		f = nil
		if rerr := removeIfExists(partial); rerr != nil || cerr != nil {
			return errors.Join(err, cerr, rerr)
		}
		res.restart = true
		return err
	}
	w := &blobWriter{f: f, h: sha256.New(), tee: in.tee, minFree: s.minFree, dir: s.dir}
	if off > 0 {
		in.event(Resuming, off, nil)
		if _, err := io.Copy(w.hashAndTee(), io.NewSectionReader(f, 0, off)); err != nil {
			return res, dropSuspect(fmt.Errorf("replaying %s: %w", partial, err))
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return res, err
	}

	// whole reports whether the bytes so far hash to the digest: the blob is all here, and
	// shorter than the manifest says. Resuming past its end got the registry's error for that
	// Range ("blob unknown", 416), kept the partial, and failed every later pull the same way,
	// naming the wrong cause; it is refused as the size mismatch it is.
	whole := func() bool { return off < in.desc.Size && hex.EncodeToString(w.h.Sum(nil)) == d.Hex }
	shorter := func() error {
		return &sizeError{fmt.Errorf("%w: the blob is %d bytes, the manifest gives %d", ErrSizeMismatch, off, in.desc.Size)}
	}
	if off > 0 && whole() {
		// A partial kept by a strata that resumed past the end.
		cerr := f.Close()
		f = nil
		return res, errors.Join(shorter(), cerr, removeIfExists(partial))
	}

	maxAttempts := in.maxAttempts
	if maxAttempts <= 0 {
		maxAttempts = maxFetchAttempts
	}
	failures := 0
	for attempt := 1; off < in.desc.Size; attempt++ {
		n, err := s.fetchOnce(ctx, in, w, off)
		off += n
		res.fetched += n
		if err == nil {
			break
		}
		var te *teeError
		var de *diskError
		var se *sizeError
		if errors.Is(err, io.ErrUnexpectedEOF) && whole() {
			err = shorter()
		}
		if errors.As(err, &se) {
			cerr := f.Close()
			f = nil
			return res, errors.Join(err, cerr, removeIfExists(partial))
		}
		var re *requestError
		if ctx.Err() != nil || errors.As(err, &te) || errors.As(err, &de) || errors.As(err, &re) {
			return res, dropSuspect(err)
		}
		if n < minResumeProgress && timedOut(err) {
			// The fetch waited out its whole timeout for next to nothing (registry's: a
			// minute of silence, tried twice). Trying again would multiply that wait by
			// the retries: a registry that stopped answering kept a pull going for half an
			// hour. The partial is kept.
			return res, fmt.Errorf("fetching at offset %d (the next pull resumes here): %w", off, err)
		}
		if n >= minResumeProgress {
			// The connection made progress before it dropped: the budget is for attempts
			// that get nowhere, so a long layer on a flaky link still completes. A few
			// bytes are not progress: a registry that trickles some and hangs up would be
			// resumed forever.
			failures = 0
		}
		failures++
		if failures > in.retries {
			return res, fmt.Errorf("fetching at offset %d after %d attempts: %w", off, failures, err)
		}
		if attempt >= maxAttempts {
			return res, fmt.Errorf("fetching at offset %d: gave up after %d attempts, each cut short (the next pull resumes here): %w", off, attempt, err)
		}
		in.event(Resuming, off, err)
		if err := sleepCtx(ctx, backoff(failures)); err != nil {
			return res, err
		}
	}

	in.event(Verifying, off, nil)
	got := hex.EncodeToString(w.h.Sum(nil))
	if got != d.Hex {
		err := fmt.Errorf("%w: content hashes to sha256:%s", ErrDigestMismatch, got[:12])
		cerr := f.Close()
		f = nil
		rerr := removeIfExists(partial)
		res.restart = resumed && cerr == nil && rerr == nil
		return res, errors.Join(err, cerr, rerr)
	}
	if err := f.Sync(); err != nil {
		return res, err
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return res, cerr
	}
	blob, _ := s.blobPath(d)
	if err := os.Rename(partial, blob); err != nil {
		return res, err
	}
	return res, syncDir(filepath.Dir(blob))
}

// fetchOnce makes one request starting at off and copies what it returns, up to the blob's
// size, into w. A stream that ends early is errCutShort (io.ErrUnexpectedEOF), which ingest
// resumes.
func (s *Store) fetchOnce(ctx context.Context, in ingest, w *blobWriter, off int64) (int64, error) {
	rc, err := in.fetch(ctx, in.desc.Digest, off)
	if err != nil {
		return 0, &requestError{err}
	}
	defer rc.Close()
	want := in.desc.Size - off
	var n int64
	buf := make([]byte, 256<<10)
	last := time.Now()
	for n < want {
		if err := context.Cause(ctx); err != nil {
			return n, err
		}
		chunk := buf
		if rest := want - n; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		m, rerr := rc.Read(chunk)
		if m > 0 {
			if _, err := w.Write(chunk[:m]); err != nil {
				return n, err
			}
			n += int64(m)
			if now := time.Now(); now.Sub(last) >= progressInterval || n == want {
				last = now
				in.event(Downloading, off+n, nil)
			}
		}
		if rerr == io.EOF {
			if n < want {
				return n, errCutShort
			}
			break
		}
		if errors.Is(rerr, io.ErrUnexpectedEOF) {
			// net/http's for a body shorter than its Content-Length.
			return n, errCutShort
		}
		if rerr != nil {
			return n, rerr
		}
	}
	// A registry that sends more than the descriptor's size serves some other blob: the
	// bytes read so far may hash right, but the next reader of this registry would not be so
	// lucky, so it is refused. A read error after the last byte is not: every byte is here.
	if m, _ := rc.Read(buf[:1]); m > 0 {
		return n, &sizeError{fmt.Errorf("%w: the registry sends more than the %d bytes the manifest gives", ErrSizeMismatch, in.desc.Size)}
	}
	return n, nil
}

// cutShortError is a response that ended before the blob did: the registry closed the
// connection. It is io.ErrUnexpectedEOF, which ingest resumes, in words that say what happened
// (Go's "unexpected EOF" named neither the registry nor what it did).
type cutShortError struct{}

func (cutShortError) Error() string {
	return "the registry closed the connection before the blob's end"
}
func (cutShortError) Unwrap() error { return io.ErrUnexpectedEOF }

var errCutShort error = cutShortError{}

// timedOut reports whether err is a timeout (a net.Error's, or a registry's stall).
func timedOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// requestError is a fetch refused before its body began: an answer of the registry (429,
// 503, 404, a bad range) that the fetcher's transport has already retried as its policy
// says. Final here, as the partial is kept: retrying it again multiplied the transport's
// waits (up to minutes each, honouring Retry-After) by Retries, so a registry that answered
// every blob 429 held a pull for nine minutes. Retries are for connections dropped mid-body.
type requestError struct{ error }

func (e *requestError) Unwrap() error { return e.error }

// sizeError is a blob longer than its descriptor: final, as retrying would fetch the same.
type sizeError struct{ err error }

func (e *sizeError) Error() string { return e.err.Error() }
func (e *sizeError) Unwrap() error { return e.err }

// progressInterval throttles Downloading events: one per layer every so often, not one per read.
const progressInterval = 100 * time.Millisecond

// blobWriter writes to the partial file first, then to the hash and the tee, so the hash only
// ever covers bytes that are on disk.
type blobWriter struct {
	f   *os.File
	h   hash.Hash
	tee io.Writer
	// minFree, unchecked and interval: see checkSpace.
	minFree, unchecked, interval int64
	// dir is the store's directory, which a refusal for lack of space names.
	dir string
}

func (w *blobWriter) Write(p []byte) (int, error) {
	if err := w.checkSpace(int64(len(p))); err != nil {
		return 0, &diskError{err}
	}
	if _, err := w.f.Write(p); err != nil {
		return 0, &diskError{err}
	}
	return w.hashAndTee().Write(p)
}

// DefaultMinFree is the most free space a download leaves on the store's disk (MinFree). A
// manifest may claim any size for a layer and a hostile registry may stream it without end:
// the download stops there, with room left for index.json, logs and the containers' own
// writes, instead of when the disk is full.
const DefaultMinFree = freespace.Default

// MinFree is the free space a download must leave on a filesystem of size bytes:
// DefaultMinFree, or 5% of the filesystem when that is less (freespace.Floor, the rule every
// write into a store keeps).
func MinFree(size int64) int64 { return freespace.Floor(size) }

// ErrNoSpace is returned when a download would leave less than MinFree on the disk.
var ErrNoSpace = errors.New("not enough free space")

// checkSpace fails once writing n more bytes would leave less than the minimum free: the
// store's minFree if set, else MinFree of the file system's size. It asks the file system at
// the first write and then every freespace.CheckInterval bytes of the floor, not on each write.
func (w *blobWriter) checkSpace(n int64) error {
	w.unchecked += n
	if w.unchecked < w.interval && w.minFree == 0 {
		return nil
	}
	w.unchecked = 0
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(w.f.Fd()), &fs); err != nil {
		w.interval = freespace.MaxCheckInterval
		return nil // a file system that cannot say is not refused for it
	}
	size := int64(fs.Blocks) * fs.Bsize
	w.interval = freespace.CheckInterval(MinFree(size))
	return roomFor(n, int64(fs.Bavail)*fs.Bsize, size, w.minFree, w.dir)
}

// roomFor fails when writing n more bytes to dir's file system, of size bytes with free
// available, would leave less than the floor: minFree when not 0, else MinFree(size). The
// error says what is free, what is needed and where.
func roomFor(n, free, size, minFree int64, dir string) error {
	floor := minFree
	if floor == 0 {
		floor = MinFree(size)
	}
	if free-n >= floor {
		return nil
	}
	return fmt.Errorf("%w on the file system of %s: %s free, %s needed (%s to write and %s kept free, %s)",
		ErrNoSpace, dir, sizeString(max(free, 0)), sizeString(n+floor), sizeString(n), sizeString(floor), floorWhy(minFree, size))
}

// floorWhy says where the floor roomFor keeps came from.
func floorWhy(minFree, size int64) string {
	switch {
	case minFree != 0:
		return "as set for this store"
	case size > 0 && MinFree(size) < DefaultMinFree:
		return "5% of its " + sizeString(size)
	}
	return "at most " + sizeString(DefaultMinFree)
}

// sizeString is n bytes as people read it: "3.5 MiB", "256 MiB", "512 B".
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n)/unit, 0
	for ; f >= unit && i < 5; i++ {
		f /= unit
	}
	s := fmt.Sprintf("%.1f", f)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + [...]string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[i]
}

// hashAndTee is the writer for bytes already in the file: the hash and the tee.
func (w *blobWriter) hashAndTee() io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		w.h.Write(p)
		if w.tee != nil {
			if _, err := w.tee.Write(p); err != nil {
				return 0, &teeError{err}
			}
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// minResumeProgress is what an attempt that breaks off must have fetched to count as progress,
// not as a failed attempt.
const minResumeProgress = 64 << 10

// maxFetchAttempts bounds the fetches of one blob, however much each brings: a registry that
// cuts every response short after some bytes cannot keep a pull going for hours. 100 attempts
// of a flaky link are still many; the partial file is kept, and the next pull resumes it.
const maxFetchAttempts = 100

// backoff is the wait before resume attempt n (1-based): 100ms doubling, at most 5s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
