package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// RefNameAnnotation is the index.json annotation that names a manifest descriptor
// (image-spec annotations.md). strata stores the full reference in it, as containerd does,
// not only the tag the spec's examples show.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// Ref is one named image in the store: its full reference and its manifest descriptor.
type Ref struct {
	Name       string
	Descriptor v1.Descriptor
}

// Tag makes ref name desc in index.json, replacing what ref named before. The manifest blob
// should already be stored: Tag is the last step of writing an image.
func (s *Store) Tag(ref string, desc v1.Descriptor) error {
	_, err := s.tag(context.Background(), ref, desc)
	if err != nil {
		return fmt.Errorf("tagging %s: %w", ref, err)
	}
	return nil
}

// tag is Tag that returns what ref named before (nil if nothing).
func (s *Store) tag(ctx context.Context, ref string, desc v1.Descriptor) (prev *v1.Descriptor, err error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	if err := checkHash(desc.Digest); err != nil {
		return nil, err
	}
	d := desc
	d.Annotations = map[string]string{}
	for k, v := range desc.Annotations {
		d.Annotations[k] = v
	}
	d.Annotations[RefNameAnnotation] = ref
	err = s.updateIndex(ctx, func(idx *v1.IndexManifest) error {
		for i, m := range idx.Manifests {
			if m.Annotations[RefNameAnnotation] == ref {
				old := m
				prev = &old
				if sameDescriptor(m, d) && named(idx.Manifests[i+1:], ref) == 0 {
					// A pull of an unchanged image rewrites nothing.
					return errUnchanged
				}
				idx.Manifests[i] = d
				idx.Manifests = append(idx.Manifests[:i+1], unnamed(idx.Manifests[i+1:], ref)...)
				return nil
			}
		}
		idx.Manifests = append(idx.Manifests, d)
		return nil
	})
	return prev, err
}

// named counts the descriptors of ds that ref names. strata writes each ref once, but an
// index.json shared with other OCI tools may name two descriptors alike (image-layout.md does
// not forbid it): Tag and Untag then act on every one, or the one left would come back as
// ref, the old image, after an rmi or a pull of a new one.
func named(ds []v1.Descriptor, ref string) int {
	n := 0
	for _, d := range ds {
		if d.Annotations[RefNameAnnotation] == ref {
			n++
		}
	}
	return n
}

// unnamed returns ds without the descriptors ref names, reusing its array.
func unnamed(ds []v1.Descriptor, ref string) []v1.Descriptor {
	out := ds[:0]
	for _, d := range ds {
		if d.Annotations[RefNameAnnotation] != ref {
			out = append(out, d)
		}
	}
	return out
}

// Untag removes ref from index.json. Its blobs stay until Prune. A ref that is not there is
// ErrNotFound.
func (s *Store) Untag(ref string) error {
	err := s.updateIndex(context.Background(), func(idx *v1.IndexManifest) error {
		if named(idx.Manifests, ref) == 0 {
			return ErrNotFound
		}
		idx.Manifests = unnamed(idx.Manifests, ref)
		return nil
	})
	if err != nil {
		return fmt.Errorf("untagging %s: %w", ref, err)
	}
	return nil
}

// Resolve returns the manifest descriptor ref names; ErrNotFound if none.
func (s *Store) Resolve(ref string) (v1.Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("resolving %s: %w", ref, err)
	}
	for _, m := range idx.Manifests {
		if m.Annotations[RefNameAnnotation] == ref {
			return m, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("resolving %s: %w", ref, ErrNotFound)
}

// List returns every named image in index.json, in the order they were first tagged.
// Descriptors without a ref name (written by other tools) are skipped.
func (s *Store) List() ([]Ref, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	refs := make([]Ref, 0, len(idx.Manifests))
	for _, m := range idx.Manifests {
		if name := m.Annotations[RefNameAnnotation]; name != "" {
			refs = append(refs, Ref{Name: name, Descriptor: m})
		}
	}
	return refs, nil
}

// errUnchanged tells updateIndex that fn changed nothing, so index.json need not be rewritten.
var errUnchanged = errors.New("index unchanged")

func sameDescriptor(a, b v1.Descriptor) bool {
	if a.Digest != b.Digest || a.Size != b.Size || a.MediaType != b.MediaType || len(a.Annotations) != len(b.Annotations) {
		return false
	}
	for k, v := range a.Annotations {
		if b.Annotations[k] != v {
			return false
		}
	}
	return a.Platform == nil && b.Platform == nil && len(a.URLs) == 0 && len(b.URLs) == 0 && len(a.Data) == 0 && len(b.Data) == 0 && a.ArtifactType == b.ArtifactType
}

// checkRef rejects names that cannot be a reference; parsing references is registry's job,
// but the store must not hold empty or multi-line names, nor one of the repository named as
// the digest algorithm (ErrAmbiguousName).
func checkRef(ref string) error {
	if ref == "" || strings.ContainsAny(ref, " \t\r\n\x00") {
		return fmt.Errorf("invalid reference %q", ref)
	}
	if ambiguousName(ref) {
		return ErrAmbiguousName // the caller names ref
	}
	return nil
}

// namedRefErr names ref in checkRef's err where err does not.
func namedRefErr(ref string, err error) error {
	if errors.Is(err, ErrAmbiguousName) {
		return fmt.Errorf("%s: %w", ref, err)
	}
	return err
}

// CheckRef is what the store refuses to name an image (checkRef), for a caller to refuse a
// name before it stores any blob.
func CheckRef(ref string) error { return checkRef(ref) }

// ErrAmbiguousName is a name in the repository docker.io/library/sha256, which docker's
// reference store refuses with these words: "sha256:<ID>" is how an image ID is typed, and
// such a tag stood for the ID of another image (an archive that named its image
// sha256:<busybox's ID> made `run sha256:<that ID>` run the archive's image).
var ErrAmbiguousName = errors.New("refusing to create an ambiguous tag using digest algorithm as name")

// ambiguousName says whether ref is in the repository named as the digest algorithm:
// "sha256:x" typed by the user, docker.io/library/sha256:x normalized, not example.com/sha256
// nor someone/sha256, as docker's check is of the familiar name. A name of 64 hex digits, which
// docker's references refuse, is one too. ref may be unnormalized: another tool's index.json
// may hold "sha256:<ID>" as written.
func ambiguousName(ref string) bool {
	rest := strings.TrimPrefix(strings.TrimPrefix(ref, "docker.io/"), "library/")
	if len(rest) == 64 && isHex(rest) {
		return true
	}
	rest, ok := strings.CutPrefix(rest, "sha256")
	return ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "@"))
}

// readIndex reads index.json without a lock: it is only ever replaced by rename, so a reader
// sees a complete old or new version.
func (s *Store) readIndex() (*v1.IndexManifest, error) {
	b, err := readFileCapped(filepath.Join(s.dir, indexFile), maxSmallBlob)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", indexFile, err)
	}
	var idx v1.IndexManifest
	if err := parseJSON(b, &idx); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", indexFile, err)
	}
	return &idx, nil
}

// updateIndex runs fn on index.json under index.json.lock and writes the result atomically, so
// concurrent strata processes never lose each other's tags.
func (s *Store) updateIndex(ctx context.Context, fn func(*v1.IndexManifest) error) (err error) {
	l, err := s.lockIndex(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Unlock()) }()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(idx); errors.Is(err, errUnchanged) {
		return nil
	} else if err != nil {
		return err
	}
	idx.SchemaVersion = 2
	if idx.MediaType == "" {
		idx.MediaType = "application/vnd.oci.image.index.v1+json"
	}
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	// One byte more than readIndex accepts and every later command, Open included, would
	// fail on the store: refused here, the store stays as it was.
	if len(b) > maxSmallBlob {
		return fmt.Errorf("%w: %s would grow to %d bytes, more than the %d allowed; remove refs first", ErrTooLarge, indexFile, len(b), maxSmallBlob)
	}
	path := filepath.Join(s.dir, indexFile)
	var oldSize int64 = -1
	if fi, err := os.Lstat(path); err == nil {
		oldSize = fi.Size()
	}
	if err := writeFileAtomic(path, b); err != nil {
		// A write that does not grow index.json (an untag, the first step of rmi) is how a
		// full disk is freed: it gets the reserve's room. A tag that grows it does not.
		if !noSpace(err) || int64(len(b)) > oldSize || !s.dropIndexReserve() {
			return fmt.Errorf("writing %s: %w", indexFile, err)
		}
		if err := writeFileAtomic(path, b); err != nil {
			return fmt.Errorf("writing %s: %w", indexFile, err)
		}
	}
	s.keepIndexReserve(int64(len(b)))
	return nil
}

// indexReserve is a file beside index.json that holds at least as many bytes (and one inode)
// as index.json: room kept for the next version of index.json to be written on a full disk.
// index.json is replaced by a new file (written, then renamed over it), which needs room for
// the whole of it even when it is smaller, so on a disk that other writes filled an untag
// failed "no space left on device", and with it rmi and image prune, the commands that free it.
const indexReserve = ".index.json.reserve"

// noSpace reports whether err is the file system's: out of blocks or inodes, or over quota.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// dropIndexReserve removes the reserve, reporting whether it was there to free room.
func (s *Store) dropIndexReserve() bool {
	path := filepath.Join(s.dir, indexReserve)
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return os.Remove(path) == nil
}

// keepIndexReserve grows the reserve to hold n bytes (in whole 4 KiB blocks) when it holds
// fewer, with blocks allocated (a sparse file frees nothing). It is best effort: on a full
// disk it stays as it is, and comes back with the next write of index.json that finds room.
func (s *Store) keepIndexReserve(n int64) {
	want := (n + 4095) &^ 4095
	path := filepath.Join(s.dir, indexReserve)
	if fi, err := os.Lstat(path); err == nil && (!fi.Mode().IsRegular() || fi.Size() >= want) {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, want); err == nil {
		return
	}
	// A file system without fallocate: zeros written are blocks allocated.
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	_, _ = f.WriteAt(make([]byte, want-fi.Size()), fi.Size())
}

func readFileCapped(path string, max int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, nil
}
