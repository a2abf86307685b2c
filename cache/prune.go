package cache

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// staleTemp is how old a temp file outside any lock must be before Prune removes it; younger
// ones may belong to an Open in another process.
const staleTemp = 10 * time.Minute

// Hold keeps Prune from running until release is called. WriteImage holds it on its own; a
// caller that stores blobs with WriteBlob and tags them afterwards holds it across both, or
// Prune could delete the blobs in between as unreferenced.
func (s *Store) Hold(ctx context.Context) (release func() error, err error) {
	l, err := s.lockGC(ctx, false)
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}

// Prune removes blobs that no ref in index.json reaches (through manifests, indexes, configs
// and layers), partial downloads no process is working on, and stale temp files. With dryRun
// it only reports. removed lists the blobs (partial downloads are not listed); freed counts
// the bytes of everything removed. Prune waits for running WriteImage calls to finish, and a
// manifest it cannot parse makes it stop rather than guess what is garbage.
func (s *Store) Prune(ctx context.Context, dryRun bool) (removed []v1.Descriptor, freed int64, err error) {
	return s.PruneKeeping(ctx, dryRun, nil, nil)
}

// PruneKeeping is Prune that also keeps the images roots names, named or not: image IDs (a
// config digest, or the digest of a manifest or an index), the images containers were
// created from. An image whose tag moved to another image (tag, pull, load) or that rmi -f
// untagged stays whole, manifest, config and layers, while a container uses it, as docker
// keeps it dangling; Unnamed lists it. roots is called under the lock Prune holds, so what it
// reads (the containers) cannot change before the blobs are judged; nil keeps none.
//
// An entry of index.json (or of an index) whose digest strata cannot store, written by another
// tool (a sha512 one, of an OCI layout copied in), is skipped and told to warn, if set, in one
// line: as `images` lists it damaged, it must not make every prune fail. A sha512 manifest
// that is there, in blobs/sha512, is read all the same, so the sha256 blobs it names are kept.
func (s *Store) PruneKeeping(ctx context.Context, dryRun bool, roots func() ([]v1.Hash, error), warn func(string)) (removed []v1.Descriptor, freed int64, err error) {
	gc, err := s.lockGC(ctx, true)
	if err != nil {
		return nil, 0, fmt.Errorf("pruning: %w", err)
	}
	defer func() { err = errors.Join(err, gc.Unlock()) }()

	keep, err := s.reachable(warn)
	if err == nil && roots != nil {
		err = s.keepRoots(keep, roots, warn)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("pruning: %w", err)
	}
	removed, freed, err = s.pruneBlobs(ctx, keep, dryRun)
	if err != nil {
		return removed, freed, fmt.Errorf("pruning: %w", err)
	}
	n, err := s.pruneIngest(ctx, dryRun)
	freed += n
	if err != nil {
		return removed, freed, fmt.Errorf("pruning: %w", err)
	}
	n, err = s.pruneTemps(ctx, dryRun)
	freed += n
	if err != nil {
		return removed, freed, fmt.Errorf("pruning: %w", err)
	}
	return removed, freed, nil
}

// keepRoots adds to keep everything the images roots names reach, those that no ref reaches
// already: the manifest or index a root is the digest of, or every manifest whose config it is.
func (s *Store) keepRoots(keep map[v1.Hash]bool, roots func() ([]v1.Hash, error), warn func(string)) error {
	ids, err := roots()
	if err != nil {
		return err
	}
	var missing []v1.Hash
	for _, id := range ids {
		if !keep[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	found, err := s.manifestsFor(missing)
	if err != nil {
		return err
	}
	for _, id := range missing {
		for _, d := range found[id] {
			if err := s.walkReachable(d, 0, keep, true, warn); err != nil {
				return err
			}
		}
	}
	return nil
}

// reachable returns every blob digest reachable from index.json. A missing manifest blob is
// skipped (there is nothing below it to keep); an unparsable one is an error.
func (s *Store) reachable(warn func(string)) (map[v1.Hash]bool, error) {
	return s.reachableFromIndex(true, warn)
}

// reachableFromIndex is reachable; not strict, a manifest that cannot be read or parsed is
// skipped rather than an error (for listings, which must not fail on one damaged image).
func (s *Store) reachableFromIndex(strict bool, warn func(string)) (map[v1.Hash]bool, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	keep := map[v1.Hash]bool{}
	for _, d := range idx.Manifests {
		if err := s.walkReachable(d, 0, keep, strict, warn); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// walkReachable adds d and every blob it reaches to keep.
func (s *Store) walkReachable(d v1.Descriptor, depth int, keep map[v1.Hash]bool, strict bool, warn func(string)) error {
	if keep[d.Digest] {
		return nil
	}
	keep[d.Digest] = true
	if depth > 8 {
		if !strict {
			return nil
		}
		return fmt.Errorf("manifest %s: indexes nested too deep", short(d.Digest))
	}
	raw, err := s.ReadBlob(d.Digest, maxSmallBlob)
	if errors.Is(err, ErrInvalidDigest) {
		raw, err = s.readForeignManifest(d.Digest)
		if err != nil {
			// No blob strata stores, nor one it can read: nothing below it is known.
			if warn != nil {
				warn(fmt.Sprintf("prune skips %s, which it cannot read: %v", describeEntry(d), err))
			}
			return nil
		}
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		if !strict {
			return nil
		}
		return err
	}
	var m manifestProbe
	if err := parseJSON(raw, &m); err != nil {
		if !strict {
			return nil
		}
		return fmt.Errorf("parsing manifest %s: %w", short(d.Digest), err)
	}
	for _, c := range m.Manifests {
		if err := s.walkReachable(c, depth+1, keep, strict, warn); err != nil {
			return err
		}
	}
	if m.Config != nil {
		keep[m.Config.Digest] = true
	}
	for _, l := range m.Layers {
		keep[l.Digest] = true
	}
	return nil
}

// readForeignManifest reads the manifest h, a sha512 digest, from blobs/sha512, where another
// tool's OCI layout keeps it, checking its content against h. Any other digest, or no such
// file, is an error.
func (s *Store) readForeignManifest(h v1.Hash) ([]byte, error) {
	if h.Algorithm != "sha512" || len(h.Hex) != 128 || !isHex(h.Hex) {
		return nil, ErrInvalidDigest
	}
	f, err := openRegular(filepath.Join(s.dir, blobsDir, h.Algorithm, h.Hex))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: sha512, which strata does not store", ErrInvalidDigest)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSmallBlob+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > maxSmallBlob {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, int64(maxSmallBlob))
	}
	if sum := sha512.Sum512(b); hex.EncodeToString(sum[:]) != h.Hex {
		return nil, fmt.Errorf("%w: its content hashes to sha512:%x", ErrDigestMismatch, sum[:6])
	}
	return b, nil
}

// describeEntry names an index.json entry for a message: its ref name and digest.
func describeEntry(d v1.Descriptor) string {
	if name := d.Annotations[RefNameAnnotation]; name != "" {
		return fmt.Sprintf("image %s (%s)", name, short(d.Digest))
	}
	return "manifest " + short(d.Digest)
}

// manifestProbe reads both shapes of manifest: an index has manifests, an image manifest
// config and layers.
type manifestProbe struct {
	MediaType types.MediaType `json:"mediaType"`
	Manifests []v1.Descriptor `json:"manifests"`
	Config    *v1.Descriptor  `json:"config"`
	Layers    []v1.Descriptor `json:"layers"`
	Subject   *v1.Descriptor  `json:"subject"`
}

func (s *Store) pruneBlobs(ctx context.Context, keep map[v1.Hash]bool, dryRun bool) (removed []v1.Descriptor, freed int64, err error) {
	dir := filepath.Join(s.dir, blobsDir, "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		if err := context.Cause(ctx); err != nil {
			return removed, freed, err
		}
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if checkHash(h) != nil || keep[h] {
			// Not ours to judge: leave files strata did not name.
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, freed, err
		}
		if !dryRun {
			if err := removeIfExists(filepath.Join(dir, e.Name())); err != nil {
				return removed, freed, err
			}
		}
		removed = append(removed, v1.Descriptor{Digest: h, Size: fi.Size()})
		freed += fi.Size()
	}
	return removed, freed, nil
}

// pruneIngest removes partial downloads, temp files and stale lock files of blobs whose ingest
// lock it can take: a locked one is being written right now.
func (s *Store) pruneIngest(ctx context.Context, dryRun bool) (freed int64, err error) {
	dir := filepath.Join(s.dir, ingestDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) && s.noIngest != nil {
		return 0, nil // nothing was ever downloaded here
	}
	if err != nil {
		return 0, err
	}
	byHex := map[string][]fs.DirEntry{}
	for _, e := range entries {
		name := e.Name()
		if len(name) < 64 || !isHex(name[:64]) {
			continue
		}
		byHex[name[:64]] = append(byHex[name[:64]], e)
	}
	for hex, files := range byHex {
		if err := context.Cause(ctx); err != nil {
			return freed, err
		}
		l, ok, err := tryLockBlob(filepath.Join(dir, hex+".lock"))
		if err != nil {
			return freed, err
		}
		if !ok {
			continue
		}
		for _, e := range files {
			if strings.HasSuffix(e.Name(), ".lock") {
				// Left by a process killed while holding it; release removes it.
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return freed, errors.Join(err, l.release())
			}
			if !dryRun {
				if err := removeIfExists(filepath.Join(dir, e.Name())); err != nil {
					return freed, errors.Join(err, l.release())
				}
			}
			freed += fi.Size()
		}
		if err := l.release(); err != nil {
			return freed, err
		}
	}
	return freed, nil
}

// pruneTemps removes temp files left in the store's top directory by a crash during Open or
// a Tag (".index.json.tmp-*", ".oci-layout.tmp-*"). Those are only made under index.json.lock
// (Open takes it too), so holding it, any is a killed process's and goes at once; others (of
// no file strata writes there) once they are old enough not to be in use.
func (s *Store) pruneTemps(ctx context.Context, dryRun bool) (freed int64, err error) {
	l, err := s.lockIndex(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, l.Unlock()) }()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		if strings.HasPrefix(e.Name(), layerTempPrefix) {
			// Its writer holds it, however old, while it uses it (LayerTemp).
			n, err := removeDeadLayerTemp(filepath.Join(s.dir, e.Name()), dryRun)
			if err != nil {
				return freed, err
			}
			freed += n
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return freed, err
		}
		underLock := strings.HasPrefix(e.Name(), "."+indexFile+".tmp-") || strings.HasPrefix(e.Name(), "."+layoutFile+".tmp-")
		if !fi.Mode().IsRegular() || (!underLock && time.Since(fi.ModTime()) < staleTemp) {
			continue
		}
		if !dryRun {
			if err := removeIfExists(filepath.Join(s.dir, e.Name())); err != nil {
				return freed, err
			}
		}
		freed += fi.Size()
	}
	return freed, nil
}
