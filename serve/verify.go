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
//
// A HEAD must answer as the GET would (a client that HEADs before it GETs, as containerd
// does, would otherwise be told a damaged blob is there and fail on it later). It checks the
// size (a stat, always) and hashes the file once, as a ranged GET does: one full read per blob
// file, the same read the GET that usually follows would do, which then goes straight to
// sendfile. Hashing only a part (the first MiB, say) would be cheaper but could not see a
// flipped bit further on, and the stored answer would then be a lie the GET contradicts. Both
// verdicts are remembered per file identity (device, inode, size, mtime): a file rewritten in
// place has a new mtime and is hashed again, and a damaged one is not hashed anew on each
// request, which would let a client make the server read a large damaged blob whole at will.

// errDamaged is a blob file whose content is not its digest's.
var errDamaged = errors.New("damaged in the store")

// maxVerified bounds how many blob files a Server remembers a verdict for; past it, it starts
// over.
const maxVerified = 1 << 16

// verdict is what hashing one blob file found.
type verdict struct {
	fi    os.FileInfo // identifies the file (device, inode, size, mtime)
	sound bool
}

// verifiedFiles remembers blob files hashed, by digest, with the FileInfo that identifies the
// file and whether it was sound: a blob removed and stored again is another file and is
// hashed again.
type verifiedFiles struct {
	mu sync.Mutex
	m  map[v1.Hash]verdict
	// hashing serializes check per digest: a burst of ranged GETs (or HEADs) of a large blob
	// not yet known sound would otherwise read it whole once each.
	hashing keyedMutex
	// hashed counts the whole-file hashes check did, for tests.
	hashed atomic.Int64
}

// known returns the verdict remembered for the blob file fi, if any.
func (v *verifiedFiles) known(h v1.Hash, fi os.FileInfo) (sound, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	old, ok := v.m[h]
	if !ok || !os.SameFile(old.fi, fi) || old.fi.Size() != fi.Size() || !old.fi.ModTime().Equal(fi.ModTime()) {
		return false, false
	}
	return old.sound, true
}

// has reports whether the blob file fi is known sound.
func (v *verifiedFiles) has(h v1.Hash, fi os.FileInfo) bool {
	sound, ok := v.known(h, fi)
	return ok && sound
}

// damaged returns the error of a blob file known damaged, or nil.
func (v *verifiedFiles) damaged(h v1.Hash, fi os.FileInfo) error {
	if sound, ok := v.known(h, fi); ok && !sound {
		return fmt.Errorf("blob %s is %w; pull the image again", h, errDamaged)
	}
	return nil
}

func (v *verifiedFiles) add(h v1.Hash, fi os.FileInfo, sound bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = map[v1.Hash]verdict{}
	}
	v.m[h] = verdict{fi: fi, sound: sound}
}

// check hashes the blob file f (described by fi) unless it, or a request before, did, and
// remembers what it found. A read error is not a verdict and is not remembered.
func (v *verifiedFiles) check(f *os.File, h v1.Hash, fi os.FileInfo) error {
	unlock := v.hashing.lock(h.String())
	defer unlock()
	if sound, ok := v.known(h, fi); ok {
		if sound {
			return nil
		}
		return fmt.Errorf("blob %s is %w; pull the image again", h, errDamaged)
	}
	v.hashed.Add(1)
	err := verifyFile(f, h, fi.Size())
	switch {
	case err == nil:
		v.add(h, fi, true)
	case errors.Is(err, errDamaged):
		v.add(h, fi, false)
	}
	return err
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
