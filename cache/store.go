package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/jsonvalues"
	"github.com/strata-run/strata/internal/safefile"
)

// ErrNotFound is returned, wrapped with what was missing, when a blob, ref or image is absent.
var ErrNotFound = errors.New("not found")

// ErrInvalidLayout is returned by Open when the directory holds something that is not an OCI
// image layout strata can use.
var ErrInvalidLayout = errors.New("invalid oci image layout")

// ErrDigestMismatch is returned when content does not hash to the digest it was stored under.
var ErrDigestMismatch = errors.New("digest mismatch")

// ErrSizeMismatch is returned when content is longer or shorter than its descriptor says.
var ErrSizeMismatch = errors.New("size mismatch")

// ErrTooLarge is returned by ReadBlob when a blob is larger than the caller's cap, and by the
// writers for a manifest, index or config holding more values than the store parses.
var ErrTooLarge = errors.New("blob too large")

// ErrInvalidDigest is returned for digests strata cannot store: anything but sha256 with 64
// lower-case hex characters. Checking this keeps a hostile digest from naming a path outside
// blobs/.
var ErrInvalidDigest = errors.New("invalid digest")

const (
	layoutFile    = "oci-layout"
	indexFile     = "index.json"
	indexLockFile = "index.json.lock"
	gcLockFile    = "gc.lock"
	blobsDir      = "blobs"
	ingestDir     = "ingest"
	// layoutVersion is the only version of image-spec image-layout.md that exists.
	layoutVersion = "1.0.0"
	// emptyIndex is a new store's index.json: v1.IndexManifest with no manifests, as
	// json.Marshal writes it, kept as text because every strata command opens the store and
	// the marshal cost each one 0.1 ms.
	emptyIndex = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`
)

// Store is an OCI image layout on disk. Its methods are safe for concurrent use, and several
// Stores (in one process or many) may be opened on the same directory.
type Store struct {
	dir string
	// minFree is the free space downloads leave on the store's disk; 0 means MinFree of
	// the filesystem's size. Tests raise it to see the limit work.
	minFree int64
	// noIngest is why ingest/ could not be made at Open: the store is on a read-only file
	// system, or its directory is not writable. It is read as any other; writes, which all
	// lock in ingest/, fail with it.
	noIngest error
}

// Open opens the store at dir, creating the layout if it is missing. Creation is atomic: files
// appear complete or not at all, and an index.json that another process created first is kept.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", dir, err)
	}
	s := &Store{dir: abs}
	if err := s.init(); err != nil {
		return nil, fmt.Errorf("opening store %s: %w", abs, err)
	}
	return s, nil
}

func (s *Store) init() error {
	if err := s.checkOwnDirs(); err != nil {
		return err
	}
	for _, d := range []string{filepath.Join(s.dir, blobsDir, "sha256"), filepath.Join(s.dir, ingestDir)} {
		if err := os.MkdirAll(d, 0o755); readOnly(err) {
			// A layout that another tool wrote (or a copy that kept no empty directory),
			// mounted read-only or not ours to write: still read, as images and inspect
			// do. A missing blobs directory holds no blob.
			s.noIngest = err
		} else if err != nil {
			return err
		}
	}
	if err := s.createLayout(); err != nil {
		return err
	}
	// {"imageLayoutVersion":"1.0.0"} is 30 bytes; a damaged file of gigabytes is not read.
	b, err := readFileCapped(filepath.Join(s.dir, layoutFile), 4096)
	if err != nil {
		return fmt.Errorf("%w: reading %s: %w", ErrInvalidLayout, layoutFile, err)
	}
	var l struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("%w: parsing %s: %w", ErrInvalidLayout, layoutFile, err)
	}
	if l.ImageLayoutVersion != layoutVersion {
		return fmt.Errorf("%w: %s has version %q, want %q", ErrInvalidLayout, layoutFile, l.ImageLayoutVersion, layoutVersion)
	}
	if _, err := s.readIndex(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidLayout, err)
	}
	return nil
}

// checkOwnDirs refuses a store whose directories blobs/, blobs/sha256/ or ingest/ are
// symlinks (safefile.OwnDirs), ErrInvalidLayout: through them prune removed files wherever
// they pointed whose names looked like blobs, partial downloads or temp files. The store's own
// path is the caller's, and may be a link.
func (s *Store) checkOwnDirs() error {
	err := safefile.OwnDirs("the store", filepath.Join(s.dir, blobsDir), filepath.Join(s.dir, blobsDir, "sha256"), filepath.Join(s.dir, ingestDir))
	var notOwn *safefile.NotOwnDirError
	if errors.As(err, &notOwn) {
		return fmt.Errorf("%w: %w", ErrInvalidLayout, err)
	}
	return err
}

// readOnly reports whether err, of making a directory, says that nothing can be written there.
func readOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// createLayout makes an empty index.json and then oci-layout, each unless there is one. Their
// temp files are made under index.json.lock, as every other of index.json, so Prune may
// remove any it finds while holding the lock: a strata killed while it made a new store's
// left a .oci-layout.tmp-* that prunes kept for ten minutes.
func (s *Store) createLayout() (err error) {
	index, layout := filepath.Join(s.dir, indexFile), filepath.Join(s.dir, layoutFile)
	if _, err := os.Lstat(layout); err == nil {
		if _, err := os.Lstat(index); err == nil {
			return nil
		}
	}
	l, err := s.lockIndex(context.Background())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Unlock()) }()
	if err := createOnce(index, []byte(emptyIndex)); err != nil {
		return fmt.Errorf("creating %s: %w", indexFile, err)
	}
	// oci-layout goes last: its presence marks a complete layout.
	if err := createOnce(layout, []byte(`{"imageLayoutVersion":"`+layoutVersion+`"}`)); err != nil {
		return fmt.Errorf("creating %s: %w", layoutFile, err)
	}
	return nil
}

// Dir returns the store's directory, absolute.
func (s *Store) Dir() string { return s.dir }

// BlobPath returns where the blob with digest h lives (or would live). It returns "" for a
// digest that is not a well-formed sha256, so a hostile digest never names another path.
func (s *Store) BlobPath(h v1.Hash) string {
	p, err := s.blobPath(h)
	if err != nil {
		return ""
	}
	return p
}

func (s *Store) blobPath(h v1.Hash) (string, error) {
	if err := checkHash(h); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, blobsDir, h.Algorithm, h.Hex), nil
}

// checkHash accepts only sha256 digests with 64 lower-case hex characters.
func checkHash(h v1.Hash) error {
	if h.Algorithm == "sha512" && len(h.Hex) == 128 && isHex(h.Hex) {
		// A digest the OCI spec registers, which strata does not store (nor do docker's
		// registries serve): said as such, not as a malformed one.
		return fmt.Errorf("%w: %q uses sha512, and strata stores sha256 blobs only", ErrInvalidDigest, h.String())
	}
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("%w: %q", ErrInvalidDigest, h.String())
	}
	if !isHex(h.Hex) {
		return fmt.Errorf("%w: %q", ErrInvalidDigest, h.String())
	}
	return nil
}

// HasBlob reports whether the verified blob h is in the store. It does not read the blob: a
// file damaged on disk since is found by the readers that verify it, which remove it. A
// symlink at the blob's path is no blob (readers refuse to follow it), so the writers, which
// store what is missing, replace it.
func (s *Store) HasBlob(h v1.Hash) bool {
	p, err := s.blobPath(h)
	if err != nil {
		return false
	}
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// OpenBlob opens the blob h for reading. A missing blob is ErrNotFound.
func (s *Store) OpenBlob(h v1.Hash) (io.ReadCloser, error) {
	p, err := s.blobPath(h)
	if err != nil {
		return nil, fmt.Errorf("opening blob: %w", err)
	}
	f, err := openRegular(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening blob %s: %w", short(h), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", short(h), err)
	}
	return f, nil
}

// ReadBlob reads a small blob (a manifest or config) whole, refusing one larger than max bytes
// with ErrTooLarge. It verifies the digest, since what it returns is usually parsed and trusted.
func (s *Store) ReadBlob(h v1.Hash, max int64) ([]byte, error) {
	rc, err := s.OpenBlob(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f := rc.(*os.File)
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", short(h), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("reading blob %s: %w: more than %d bytes", short(h), ErrTooLarge, max)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != h.Hex {
		err := fmt.Errorf("reading blob %s: %w: content hashes to sha256:%s", short(h), ErrDigestMismatch, got[:12])
		// Damaged on disk: removed, so the next pull stores it again (see corrupt.go).
		if fi, serr := f.Stat(); serr == nil {
			err = errors.Join(err, s.discardDamaged(h, fi))
		}
		return nil, err
	}
	return b, nil
}

// short names a digest the way messages do: algorithm and the first 12 hex characters.
func short(h v1.Hash) string {
	if len(h.Hex) > 12 {
		return h.Algorithm + ":" + h.Hex[:12]
	}
	return h.String()
}

// maxSmallBlob caps manifests, configs and index.json read into memory: hostile registries
// and corrupt files must not exhaust memory. 16 MiB is far above any real manifest or config.
const maxSmallBlob = 16 << 20

// maxJSONValues bounds the values of a manifest, index or config the store parses.
const maxJSONValues = jsonvalues.Max

// parseBlob is parseJSON for a manifest, index or config: one with more than maxJSONValues
// values is refused, ErrTooLarge, before it is parsed.
func parseBlob(b []byte, v any) error {
	if err := checkValues(b); err != nil {
		return err
	}
	return parseJSON(b, v)
}

// checkValues refuses b, ErrTooLarge, when it holds more than maxJSONValues JSON values.
func checkValues(b []byte) error {
	if n := jsonvalues.Count(b); n > maxJSONValues {
		return fmt.Errorf("%w: more than %d JSON values in %d bytes", ErrTooLarge, maxJSONValues, len(b))
	}
	return nil
}

// parseJSON is json.Unmarshal that rejects trailing data, for manifests and configs.
func parseJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after json value")
	}
	return nil
}
