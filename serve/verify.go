package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A blob file can be damaged on disk while keeping its size (bit rot, a stray write), or be
// replaced by a symlink to another file of that size. The client asked for a digest; sending it
// other bytes whole, as a 200 or a 206, hands it a lie it may store (a ranged resume is never
// checked against the digest by most clients). So the first GET of each blob file hashes it:
// a full GET as it streams, holding back its last bytes until the hash matches, a ranged GET
// before it answers. Files found sound are remembered by identity, so later GETs (and their
// ranges) go straight to sendfile.

// errDamaged is a blob file whose content is not its digest's.
var errDamaged = errors.New("damaged in the store")

// maxVerified bounds how many sound blob files a Server remembers; past it, it starts over.
const maxVerified = 1 << 16

// verifiedFiles remembers blob files hashed and found sound, by digest, with the FileInfo that
// identifies the file (device, inode, size, mtime): a blob removed and stored again is
// another file and is hashed again.
type verifiedFiles struct {
	mu sync.Mutex
	m  map[v1.Hash]os.FileInfo
	// hashing serializes check per digest: a burst of ranged GETs of a large blob not yet
	// known sound would otherwise read it whole once each.
	hashing keyedMutex
	// hashed counts the whole-file hashes check did, for tests.
	hashed atomic.Int64
}

func (v *verifiedFiles) has(h v1.Hash, fi os.FileInfo) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, ok := v.m[h]
	return ok && os.SameFile(old, fi) && old.Size() == fi.Size() && old.ModTime().Equal(fi.ModTime())
}

func (v *verifiedFiles) add(h v1.Hash, fi os.FileInfo) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = map[v1.Hash]os.FileInfo{}
	}
	v.m[h] = fi
}

// check hashes the blob file f (described by fi) unless it, or a request before, found it
// sound, and remembers it if it is.
func (v *verifiedFiles) check(f *os.File, h v1.Hash, fi os.FileInfo) error {
	unlock := v.hashing.lock(h.String())
	defer unlock()
	if v.has(h, fi) {
		return nil
	}
	v.hashed.Add(1)
	if err := verifyFile(f, h, fi.Size()); err != nil {
		return err
	}
	v.add(h, fi)
	return nil
}

// verifyFile hashes f (size bytes, from the start) and checks it against h.
func verifyFile(f *os.File, h v1.Hash, size int64) error {
	d := sha256.New()
	n, err := io.Copy(d, io.NewSectionReader(f, 0, size+1))
	if err != nil {
		return fmt.Errorf("blob %s: reading: %w", h, err)
	}
	if got := hex.EncodeToString(d.Sum(nil)); n != size || got != h.Hex {
		return fmt.Errorf("blob %s is %w; pull the image again", h, errDamaged)
	}
	return nil
}

// verifyingFile is the blob file as http.ServeContent reads it for a full GET: it hashes what
// is read, in order, and returns the read that reaches the end only once the hash matches. A
// damaged file thus ends in an error before its last bytes, and the response is cut short.
type verifyingFile struct {
	f    *os.File
	want v1.Hash
	size int64
	d    hashWriter
	pos  int64 // the file offset
	n    int64 // bytes hashed, all from offset 0 in order
	ok   bool  // the whole file was read and matches
	err  error // why it is not served whole
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newVerifyingFile(f *os.File, want v1.Hash, size int64) *verifyingFile {
	return &verifyingFile{f: f, want: want, size: size, d: sha256.New()}
}

func (v *verifyingFile) Seek(off int64, whence int) (int64, error) {
	p, err := v.f.Seek(off, whence)
	if err == nil {
		v.pos = p
	}
	return p, err
}

func (v *verifyingFile) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.pos != v.n {
		// Only a full GET reads through here, from 0 in order; anything else is not checked.
		v.err = fmt.Errorf("blob %s: read at %d, not in order", v.want, v.pos)
		return 0, v.err
	}
	left := v.size - v.n
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left] // stop at the size, to check the hash before giving the last bytes
	}
	n, err := v.f.Read(p)
	v.d.Write(p[:n])
	v.n += int64(n)
	v.pos += int64(n)
	if v.n == v.size {
		if got := hex.EncodeToString(v.d.Sum(nil)); got != v.want.Hex {
			v.err = fmt.Errorf("blob %s is %w; pull the image again", v.want, errDamaged)
			return 0, v.err
		}
		v.ok = true
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		v.err = fmt.Errorf("blob %s is %w: shorter than %d bytes", v.want, errDamaged, v.size)
		return n, v.err
	}
	return n, err
}
