package snapshotter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/strata-run/strata/layers"
	"golang.org/x/sys/unix"
)

const (
	// locksDir holds one lock file per DiffID, <root>/.locks/<hex>.lock. The locks only save
	// double work: correctness comes from the rename, which fails when another process won.
	locksDir = ".locks"
	// tmpPrefix starts the name of a layer being unpacked or removed: .tmp-<hex>-<random>.
	tmpPrefix = ".tmp-"
	// lockRetry is how often a waiting Unpack retries the lock of a DiffID another process is
	// unpacking.
	lockRetry = 20 * time.Millisecond
)

// Unpack applies a compressed layer stream into the layer dir for diffID.
//
// The tar goes into <root>/.tmp-<hex>-<random>; the DiffID computed while applying must equal
// diffID (ErrDiffIDMismatch otherwise); the filesystem is synced (syncfs) and the dir renamed
// into place, so a crash never leaves a half layer visible. If the layer dir already exists,
// or another caller finishes it first, Unpack reads r to its end (so a tee'd download is not
// blocked) and returns nil once r's content hashes to diffID: a blob that is not the layer
// (ErrDiffIDMismatch) is not taken for it because another image's layer is unpacked. Calls for the same diffID, in this process or others, wait on a
// per-DiffID file lock instead of unpacking twice. On error r may be left partly read: the
// caller aborts its download.
func (s *Snapshotter) Unpack(ctx context.Context, diffID v1.Hash, mediaType types.MediaType, r io.Reader) error {
	if err := validDiffID(diffID); err != nil {
		return fmt.Errorf("unpacking layer: %w", err)
	}
	if err := s.unpack(ctx, diffID, mediaType, r); err != nil {
		return fmt.Errorf("unpacking layer %s: %w", short(diffID), err)
	}
	return nil
}

func (s *Snapshotter) unpack(ctx context.Context, diffID v1.Hash, mediaType types.MediaType, r io.Reader) (err error) {
	if s.Has(diffID) && !s.isDamaged(diffID) {
		return s.verify(ctx, diffID, mediaType, r)
	}
	lock, err := s.lockLayer(ctx, diffID.Hex)
	if err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	defer func() {
		if uerr := lock.Unlock(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("unlocking: %w", uerr))
		}
	}()
	// A layer dir that lost files since its unpack (see printsDir) is unpacked again, and
	// replaces it.
	damaged := false
	if s.Has(diffID) {
		if !s.isDamaged(diffID) {
			return s.verify(ctx, diffID, mediaType, r)
		}
		damaged = true
	}
	// Holding the lock, any .tmp-<hex>-* is left over from a process that died unpacking.
	if err := s.removeTmp(diffID.Hex); err != nil {
		return err
	}
	// Something that is no directory where the layer dir goes (a file, a symlink) is damage,
	// not a layer (Has said so): it goes, and the layer is unpacked in its place.
	final := filepath.Join(s.root, diffID.Hex)
	if fi, err := os.Lstat(final); err == nil && !fi.IsDir() {
		if err := os.Remove(final); err != nil {
			return fmt.Errorf("removing %s, which is no directory: %w", final, err)
		}
	}

	tmp, err := os.MkdirTemp(s.root, tmpPrefix+diffID.Hex+"-")
	if err != nil {
		return fmt.Errorf("creating temporary layer dir: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := removeAll(tmp); rerr != nil {
				err = errors.Join(err, fmt.Errorf("removing %s: %w", tmp, rerr))
			}
		}
	}()
	// MkdirTemp makes 0700; the layer's root is the container's "/" unless the tar says
	// otherwise with a "./" entry.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := dropInheritedACLs(tmp); err != nil {
		return err
	}
	// Nor the group of a setgid directory it was made in: the layer's root is the
	// container's "/", root's unless the tar says otherwise, as docker chowns its layer dirs.
	if err := os.Lchown(tmp, os.Geteuid(), os.Getegid()); err != nil {
		return err
	}

	opts := s.layer
	opts.MediaType = mediaType
	opts.ExpectDiffID = diffID
	got, err := layers.Apply(ctx, tmp, r, opts)
	if err != nil {
		return err
	}
	if got != diffID {
		return fmt.Errorf("%w: content is %s", ErrDiffIDMismatch, got)
	}
	// Compressed streams may carry bytes after the tar's end; a tee'd download waits for them.
	if err := drain(r); err != nil {
		return err
	}
	if err := syncDir(tmp, true); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	if damaged {
		if err := s.replaceDamaged(tmp, final, diffID); err != nil {
			return err
		}
	} else if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			// Another process won without our lock (a lock file pruned under it).
			if rerr := removeAll(tmp); rerr != nil {
				return fmt.Errorf("removing %s: %w", tmp, rerr)
			}
			return nil
		}
		return fmt.Errorf("renaming into place: %w", err)
	}
	// The rename is durable once the parent dir is.
	if err := syncDir(s.root, false); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	// Taken once the dir is in place: the rename changed its change time.
	return s.recordPrint(diffID)
}

// isDamaged reports whether diffID's layer dir, which exists, differs from its fingerprint.
func (s *Snapshotter) isDamaged(diffID v1.Hash) bool {
	state, _ := s.intact(diffID)
	return state == intactDamaged
}

func (s *Snapshotter) lockPath(hex string) string {
	return filepath.Join(s.root, locksDir, hex+".lock")
}

// removeTmp removes the .tmp-<hex>-* dirs left by an unpack of hex that died (killed, or a
// crash); the caller holds hex's lock, so none of them is being written. The root is read for
// them once per Snapshotter, at its first unpack, not once per layer: it holds a dir per
// layer, and a pull of a 3000-layer image spent a third of its time listing it (the cost grew
// with the square of the layer count). A leftover that appears later, from another process
// that dies while this one unpacks, is for the next pull, or prune, to remove.
func (s *Snapshotter) removeTmp(hex string) error {
	for _, m := range s.leftovers.take(s.root, hex) {
		if err := removeAll(m); err != nil {
			return fmt.Errorf("removing stale %s: %w", filepath.Base(m), err)
		}
	}
	return nil
}

// tmpLeftovers lists the root's .tmp-<hex>-* dirs the first time it is asked, by DiffID hex.
type tmpLeftovers struct {
	once  sync.Once
	mu    sync.Mutex
	byHex map[string][]string
}

// take returns the leftover temporary dirs of hex, as paths, and forgets them.
func (l *tmpLeftovers) take(root, hex string) []string {
	l.once.Do(func() {
		l.byHex = map[string][]string{}
		for _, m := range withPrefix(root, tmpPrefix) {
			if h := tmpHex(filepath.Base(m)); h != "" {
				l.byHex[h] = append(l.byHex[h], m)
			}
		}
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.byHex[hex]
	delete(l.byHex, hex)
	return m
}

// syncDir makes dir durable: with all set, everything on its filesystem (syncfs: one call
// instead of an fsync per unpacked file); otherwise the dir's own entries (fsync).
func syncDir(dir string, all bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if all {
		err = unix.Syncfs(fd)
	} else {
		err = unix.Fsync(fd)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// dropInheritedACLs removes the POSIX ACLs that dir, just made, inherited from a default
// ACL above it (one an administrator set on strata's root, or on a directory above it). Left
// there, everything made in dir inherits them in turn: every file of a layer carried the
// host's named users and groups in an access ACL of its own, which the tar does not give it
// (a user the host lets into the root read an image's /etc/shadow of mode 0640 in every
// container of the image), and every directory a default ACL, which the files a container
// makes there inherit.
func dropInheritedACLs(dir string) error {
	for _, name := range []string{"system.posix_acl_default", "system.posix_acl_access"} {
		err := unix.Removexattr(dir, name)
		if err != nil && err != unix.ENODATA && err != unix.ENOTSUP {
			return fmt.Errorf("removing %s of %s: %w", name, dir, err)
		}
	}
	return nil
}

// verify checks that r, the compressed stream of a layer whose dir exists, is that layer: its
// content hashes to diffID. Drained unchecked, any blob a manifest named with the DiffID of a
// layer already here was taken for it, and stored paired with it: the image then saved or
// pushed with another blob (another image's, a config) as that layer, which no one can load.
func (s *Snapshotter) verify(ctx context.Context, diffID v1.Hash, mediaType types.MediaType, r io.Reader) error {
	rc, err := layers.DecompressMax(r, mediaType, s.layer.MaxSize)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := rc.Read(buf)
		h.Write(buf[:n])
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading layer: %w", rerr)
		}
	}
	if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}); got != diffID {
		return fmt.Errorf("%w: content is %s", ErrDiffIDMismatch, got)
	}
	// Compressed streams may carry bytes after the tar's end; a tee'd download waits for them.
	return drain(r)
}

// drain reads r to its end.
func drain(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("draining layer stream: %w", err)
	}
	return nil
}

// tmpHex returns the DiffID hex in a .tmp-<hex>-* name, or "".
func tmpHex(name string) string {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok || len(rest) < 65 || rest[64] != '-' || !isHex64(rest[:64]) {
		return ""
	}
	return rest[:64]
}

// Ensure makes sure diffID's layer dir exists and is blob's content, calling open for the
// compressed layer stream (which must be verified against blob's digest as it is read) only
// when it does not exist (`strata run` over an image whose layers were pruned, or pulled by a
// strata that did not unpack) or blob is not proven to be it (see provenDir): a layer dir
// unpacked from another blob is used for this one only once this one hashed to it. open is
// called at most once.
//
// A layer dir that lost files since its unpack (its fingerprint says so: see printsDir) is
// unpacked again from blob, and replaces it; without the blob, the error is a *DamagedError.
func (s *Snapshotter) Ensure(ctx context.Context, diffID v1.Hash, blob v1.Descriptor, open func() (io.ReadCloser, error)) (err error) {
	var damage string
	if s.Has(diffID) && s.Proven(diffID, blob.Digest) {
		state, how := s.intact(diffID)
		switch state {
		case intactOK:
			return nil
		case intactUnknown:
			s.recordPrintLate(diffID)
			return nil
		}
		damage = how
	}
	rc, err := open()
	if err != nil {
		if damage != "" {
			return &DamagedError{DiffID: diffID, How: damage, Err: err}
		}
		return fmt.Errorf("unpacking layer %s: opening: %w", short(diffID), err)
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("unpacking layer %s: closing: %w", short(diffID), cerr)
		}
	}()
	if err := s.Unpack(ctx, diffID, blob.MediaType, rc); err != nil {
		return fmt.Errorf("%w (blob %s)", err, short(blob.Digest))
	}
	return s.prove(diffID, blob.Digest)
}
