package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// ErrNoIndex is returned by Save for --all-platforms, or a --platform the stored image is not,
// when the store holds a single-platform manifest for the ref rather than an index: the other
// platforms were never pulled, so there is nothing to save for them.
var ErrNoIndex = errors.New("the store holds only one platform of this image")

// ErrAllPlatformsDocker is returned by Save for AllPlatforms of an index in a docker-archive:
// its manifest.json names one config and one layer list per image, so it holds one platform
// of each; an OCI archive or layout keeps the index.
var ErrAllPlatformsDocker = errors.New("a docker-archive holds one platform per image: save every platform with --format oci-archive or oci-dir")

// SaveOptions tune Save and SaveDir. The zero value writes a docker-archive of the images as
// they are stored.
type SaveOptions struct {
	// Format is the archive to write; "" is DockerArchive. SaveDir ignores it.
	Format Format
	// Platform, if set, selects that platform's manifest of a stored index, and otherwise
	// checks that the stored image is that platform.
	Platform *v1.Platform
	// AllPlatforms saves a stored index whole, every platform it lists.
	AllPlatforms bool
	// Progress, if set, receives a Stored event per blob written.
	Progress func(Event)
}

// epoch is the modification time of every entry Save writes, so that saving the same images
// twice gives the same bytes.
var epoch = time.Unix(0, 0).UTC()

// Save writes the images refs name, from store, to w as a tar archive in opts.Format. Each
// blob is written once, however many images share it, and copied straight from the store.
func Save(ctx context.Context, w io.Writer, store *cache.Store, refs []cache.Ref, opts SaveOptions) error {
	format, err := ParseFormat(string(opts.Format))
	if err != nil {
		return err
	}
	if format == OCIDir {
		return fmt.Errorf("saving: %s is a directory: use SaveDir", OCIDir)
	}
	s, err := newSaver(store, refs, opts, format == DockerArchive)
	if err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	if err := s.writeTar(ctx, w); err != nil {
		if errors.As(err, new(*damagedError)) {
			return fmt.Errorf("saving %w", err) // "saving alpine: the stored image is damaged"
		}
		return fmt.Errorf("saving: %w", err)
	}
	return nil
}

// SaveDir writes the images refs name, from store, as an OCI image layout in dir, which must
// be missing or empty. On failure, what SaveDir created is removed. Every file is created
// new beneath dir (os.Root, O_EXCL): dir may belong to someone else (an empty /tmp/out made
// in advance), who can put a symlink in it while the save runs; the save then fails rather
// than write or remove anything outside dir.
func SaveDir(ctx context.Context, dir string, store *cache.Store, refs []cache.Ref, opts SaveOptions) (err error) {
	s, err := newSaver(store, refs, opts, false)
	if err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	switch merr := os.Mkdir(dir, 0o755); {
	case merr == nil:
		defer func() {
			// Not left behind empty under the name, as a failed save leaves no file.
			if err != nil {
				err = errors.Join(err, os.Remove(dir))
			}
		}()
	case !errors.Is(merr, os.ErrExist):
		return fmt.Errorf("saving to %s: %w", dir, merr)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("saving to %s: %w", dir, err)
	}
	defer root.Close()
	names, err := dirNames(root)
	if err != nil {
		return fmt.Errorf("saving to %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("saving to %s: directory is not empty", dir)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, removeContents(root))
		}
	}()
	if err := s.writeDir(ctx, root); err != nil {
		return fmt.Errorf("saving to %s: %w", dir, err)
	}
	return nil
}

// saver is the set of blobs and names one Save writes.
type saver struct {
	store    *cache.Store
	progress func(Event)
	blobs    []v1.Descriptor
	seen     map[v1.Hash]bool
	index    v1.IndexManifest
	docker   []dockerManifest
	// owner names, for each blob, the first image saved that has it, for an error that
	// finds it damaged; cur is the image being planned.
	owner map[v1.Hash]string
	cur   string
	// manifests are the image manifests planned, through which the store reads a layer
	// verified (see discard).
	manifests []v1.Hash
}

func newSaver(store *cache.Store, refs []cache.Ref, opts SaveOptions, docker bool) (*saver, error) {
	if len(refs) == 0 {
		return nil, errors.New("no images to save")
	}
	s := &saver{
		store:    store,
		progress: opts.Progress,
		seen:     map[v1.Hash]bool{},
		owner:    map[v1.Hash]string{},
		index:    v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex},
	}
	for _, r := range refs {
		s.cur = r.Name
		if ref, err := registry.ParseReference(r.Name); err == nil {
			s.cur = ref.Familiar()
		}
		if s.cur == "" {
			// An image saved by ID (a dangling one) is named by it in errors.
			s.cur = r.Descriptor.Digest.String()
		}
		if err := s.add(r, opts, docker); err != nil {
			name := r.Name
			if name == "" {
				name = s.cur
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return s, nil
}

// add plans one ref: its manifest (or index) and every blob below it.
func (s *saver) add(r cache.Ref, opts SaveOptions, docker bool) error {
	root := v1.Descriptor{MediaType: r.Descriptor.MediaType, Digest: r.Descriptor.Digest, Size: r.Descriptor.Size}
	raw, err := s.store.ReadBlob(root.Digest, maxJSON)
	if err != nil {
		return err
	}
	if root.MediaType.IsIndex() && opts.AllPlatforms {
		if docker {
			return ErrAllPlatformsDocker
		}
		// The whole tree, as stored: every platform, attestations, nested indexes.
		blobs, err := s.store.Blobs(root)
		if err != nil {
			return err
		}
		for _, b := range blobs {
			if !s.store.HasBlob(b.Digest) {
				return fmt.Errorf("blob %s: %w in the store: pull it again with --all-platforms", short(b.Digest), cache.ErrNotFound)
			}
			if b.MediaType.IsImage() {
				s.manifests = append(s.manifests, b.Digest)
			}
			s.addBlob(b)
		}
		root.Annotations = s.annotations(r.Name)
		s.index.Manifests = append(s.index.Manifests, root)
		return nil
	}
	var images []v1.Descriptor // the image manifests below root
	if root.MediaType.IsIndex() {
		var idx v1.IndexManifest
		if err := json.Unmarshal(raw, &idx); err != nil {
			return fmt.Errorf("parsing index %s: %w", short(root.Digest), parsing(err))
		}
		want := registry.DefaultPlatform()
		if opts.Platform != nil {
			want = *opts.Platform
		}
		var have []string
		for _, c := range idx.Manifests {
			if c.Platform != nil && matchPlatform(*c.Platform, want) {
				images = append(images, c)
				root = c
				break
			}
			if c.Platform != nil && c.Platform.OS != "unknown" {
				have = append(have, c.Platform.String())
			}
		}
		if len(images) == 0 {
			return fmt.Errorf("index %s: %w %s (it has %s)", short(root.Digest), registry.ErrNoMatchingPlatform, want.String(), listed(have))
		}
	} else {
		if opts.AllPlatforms {
			return fmt.Errorf("%w: its other platforms were never pulled", ErrNoIndex)
		}
		images = []v1.Descriptor{root}
	}
	var firstImage *dockerManifest
	for _, d := range images {
		dm, err := s.addImage(d, opts.Platform)
		if err != nil {
			return err
		}
		if firstImage == nil {
			firstImage = &dm
		}
	}
	if root.MediaType.IsIndex() {
		s.addBlob(root)
	}
	ann := s.annotations(pinnedTo(r.Name, r.Descriptor.Digest, root.Digest))
	if docker {
		ref, err := registry.ParseReference(r.Name)
		var tag string
		if err == nil {
			tag = ref.Tag()
		}
		// As Docker 25 writes it: the spec annotation holds the tag only.
		delete(ann, refNameAnnotation)
		if tag != "" {
			ann[refNameAnnotation] = tag
		}
		s.addDocker(*firstImage, tag, ref)
	}
	root.Annotations = ann
	s.index.Manifests = append(s.index.Manifests, root)
	return nil
}

// addDocker lists image in manifest.json, tagged with ref when tag is set. An image saved
// already, under another name or none, gets the name added to its entry, as docker save
// groups an image's names: `save alpine:latest alpine:3.20.3` wrote two entries of one
// image, one name each.
func (s *saver) addDocker(image dockerManifest, tag string, ref registry.Reference) {
	i := slices.IndexFunc(s.docker, func(m dockerManifest) bool {
		return m.Config == image.Config && slices.Equal(m.Layers, image.Layers)
	})
	if i < 0 {
		s.docker = append(s.docker, image)
		i = len(s.docker) - 1
	}
	if tag != "" && !slices.Contains(s.docker[i].RepoTags, ref.Familiar()) {
		s.docker[i].RepoTags = append(s.docker[i].RepoTags, ref.Familiar())
	}
}

// pinnedTo is name, a ref of the image top (an index), as it names the image saved in its
// place, the manifest of one platform picked from it: a name pinning top's digest
// ("alpine@sha256:<index>") pins the manifest's instead. Under the index's digest, the
// manifest the archive lists is another image than the name promises, and load (strata's,
// as it keeps only a pin of the digest an archive lists an image by) refused the archive
// strata save had just written, "image has no name". A name by tag is kept as it is.
func pinnedTo(name string, top, saved v1.Hash) string {
	ref, err := registry.ParseReference(name)
	if err != nil || top == saved || ref.Digest() != top.String() {
		return name
	}
	if pinned, err := ref.WithDigest(saved.String()); err == nil {
		return pinned.String()
	}
	return name
}

// annotations name an image in index.json as containerd and skopeo both read it: the full
// name in each key. An image saved by ID (a dangling one) has no name, and none is written,
// as docker save <ID> writes none.
func (s *saver) annotations(name string) map[string]string {
	if name == "" {
		return map[string]string{}
	}
	if ref, err := registry.ParseReference(name); err == nil {
		name = ref.String()
	}
	return map[string]string{containerdNameAnnotation: name, refNameAnnotation: name}
}

// addImage plans one image manifest's blobs; with a platform, it first checks the config is
// that platform.
func (s *saver) addImage(d v1.Descriptor, platform *v1.Platform) (dockerManifest, error) {
	raw, err := s.store.ReadBlob(d.Digest, maxJSON)
	if err != nil {
		return dockerManifest{}, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return dockerManifest{}, fmt.Errorf("parsing manifest %s: %w", short(d.Digest), parsing(err))
	}
	if platform != nil {
		cfgRaw, err := s.store.ReadBlob(m.Config.Digest, maxJSON)
		if err != nil {
			return dockerManifest{}, err
		}
		var cfg v1.ConfigFile
		if err := json.Unmarshal(cfgRaw, &cfg); err != nil {
			return dockerManifest{}, fmt.Errorf("parsing config %s: %w", short(m.Config.Digest), parsing(err))
		}
		have := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if !matchPlatform(have, *platform) {
			return dockerManifest{}, fmt.Errorf("%w (%s), not %s: pull it with --platform %s first", ErrNoIndex, quoted(have.String()), platform.String(), platform.String())
		}
	}
	s.manifests = append(s.manifests, d.Digest)
	dm := dockerManifest{Config: blobName(m.Config.Digest)}
	for _, l := range m.Layers {
		if !s.store.HasBlob(l.Digest) {
			return dockerManifest{}, fmt.Errorf("layer %s: %w in the store", short(l.Digest), cache.ErrNotFound)
		}
		s.addBlob(l)
		dm.Layers = append(dm.Layers, blobName(l.Digest))
	}
	s.addBlob(m.Config)
	s.addBlob(v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
	return dm, nil
}

func (s *saver) addBlob(d v1.Descriptor) {
	if !s.seen[d.Digest] {
		s.seen[d.Digest] = true
		s.owner[d.Digest] = s.cur
		s.blobs = append(s.blobs, d)
	}
}

// files returns the small files of the layout: oci-layout, index.json and, for a docker
// archive, manifest.json.
func (s *saver) files() ([][2]string, error) {
	idx, err := json.Marshal(s.index)
	if err != nil {
		return nil, err
	}
	files := [][2]string{
		{"oci-layout", `{"imageLayoutVersion":"1.0.0"}`},
		{"index.json", string(idx)},
	}
	if s.docker != nil {
		mj, err := json.Marshal(s.docker)
		if err != nil {
			return nil, err
		}
		files = append(files, [2]string{"manifest.json", string(mj)})
	}
	return files, nil
}

func (s *saver) writeTar(ctx context.Context, w io.Writer) error {
	tw := tar.NewWriter(&cancelWriter{ctx: ctx, w: w})
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	buf := make([]byte, copyBufSize)
	for _, d := range s.blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: blobName(d.Digest), Size: d.Size, Mode: 0o644, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := s.copyBlob(tw, d, buf); err != nil {
			return err
		}
		report(s.progress, Event{Kind: Stored, Name: hdr.Name, Digest: d.Digest, Size: d.Size})
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f[0], Size: int64(len(f[1])), Mode: 0o644, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, f[1]); err != nil {
			return err
		}
	}
	return tw.Close()
}

func (s *saver) writeDir(ctx context.Context, root *os.Root) error {
	for _, d := range []string{"blobs", "blobs/sha256"} {
		if err := root.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	create := func(name string) (*os.File, error) {
		return root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	}
	buf := make([]byte, copyBufSize)
	for _, d := range s.blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := create(blobName(d.Digest))
		if err != nil {
			return err
		}
		err = s.copyBlob(f, d, buf)
		if err := errors.Join(err, f.Close()); err != nil {
			return err
		}
		report(s.progress, Event{Kind: Stored, Name: blobName(d.Digest), Digest: d.Digest, Size: d.Size})
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := create(name[0])
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, name[1])
		if err := errors.Join(err, f.Close()); err != nil {
			return err
		}
	}
	return nil
}

// copyBlob copies blob d from the store to w, checking its bytes against d as they stream:
// the store verified the blob when it was written, but a file damaged on disk since (a flipped
// bit, a truncating copy) was written into the archive, the save exited 0 and the archive
// failed only where it was loaded. The last bytes are withheld until the digest is checked,
// so a reader of the stream never gets the damaged blob whole. A damaged blob fails the save
// naming the image and the blob, and the store discards it, so a pull stores it again.
func (s *saver) copyBlob(w io.Writer, d v1.Descriptor, buf []byte) error {
	f, err := s.store.OpenBlob(d.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	v := &verifyingReader{r: f, desc: d, h: sha256.New()}
	if _, err := io.CopyBuffer(w, v, buf); err != nil {
		if v.damaged != nil {
			s.discard(d)
			return &damagedError{image: s.owner[d.Digest], err: v.damaged}
		}
		return fmt.Errorf("copying blob %s: %w", short(d.Digest), err)
	}
	return nil
}

// cancelWriter is the archive's output, each Write run in a goroutine so that it returns
// when ctx is done even while the write waits: a pipe whose reader stalls (a hung ssh behind
// `strata save | ssh host docker load`) blocks write(2), where no cancel reaches, and the
// SIGTERM of timeout(1) or a service stop was ignored until the reader read or went away.
// The bytes are copied first: a write abandoned on cancel must not go on reading a buffer
// its caller has since reused.
type cancelWriter struct {
	ctx context.Context
	w   io.Writer
	buf []byte
}

func (c *cancelWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	buf := c.buf[:len(p)]
	copy(buf, p)
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := c.w.Write(buf)
		ch <- result{n, err}
	}()
	select {
	case res := <-ch:
		return res.n, res.err
	case <-c.ctx.Done():
		c.buf = nil // the abandoned write keeps it
		return 0, c.ctx.Err()
	}
}

// damagedError is a blob of image found damaged in the store as it was saved.
type damagedError struct {
	image string
	err   error
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("%s: the stored image is damaged: %v; pull the image again to repair it", e.image, e.err)
}

func (e *damagedError) Unwrap() error { return e.err }

// verifyingReader reads the stored blob desc from r and ends with an error, not io.EOF, when
// the bytes are not desc's: a file of another size, or content of another digest, which it
// reports before giving the blob's last bytes. damaged is that error.
type verifyingReader struct {
	r       io.Reader
	desc    v1.Descriptor
	h       hash.Hash
	n       int64
	damaged error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	left := v.desc.Size - v.n
	if left <= 0 {
		// Every byte of the blob is read: the file must end here.
		var one [1]byte
		n, err := io.ReadFull(v.r, one[:])
		if n > 0 {
			return 0, v.fail(fmt.Errorf("blob %s: %w: more than the %d bytes the descriptor says are stored", short(v.desc.Digest), cache.ErrSizeMismatch, v.desc.Size))
		}
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n == v.desc.Size && n > 0 {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.desc.Digest.Hex {
			return 0, v.fail(fmt.Errorf("blob %s: %w: stored content hashes to sha256:%s", short(v.desc.Digest), cache.ErrDigestMismatch, got[:12]))
		}
	}
	if errors.Is(err, io.EOF) && v.n < v.desc.Size {
		return n, v.fail(fmt.Errorf("blob %s: %w: %d bytes stored, descriptor says %d", short(v.desc.Digest), cache.ErrSizeMismatch, v.n, v.desc.Size))
	}
	if errors.Is(err, io.EOF) {
		err = nil // the next Read checks the file ends
	}
	return n, err
}

func (v *verifyingReader) fail(err error) error {
	v.damaged = err
	return err
}

// discard has the store read blob d through its own verifying reader, which removes a
// damaged blob file (cache/corrupt.go), as a push or run that meets it does: the store
// counts a blob of the right size as present, so a pull would otherwise never replace it.
// Best effort: the save fails on the damage either way.
func (s *saver) discard(d v1.Descriptor) {
	if d.Size <= maxJSON {
		s.store.ReadBlob(d.Digest, maxJSON)
		return
	}
	for _, m := range s.manifests {
		img, err := s.store.Image(m)
		if err != nil {
			continue
		}
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			continue
		}
		if rc, err := l.Compressed(); err == nil {
			io.Copy(io.Discard, rc)
			rc.Close()
			return
		}
	}
}

// dirNames lists the names in root's directory.
func dirNames(root *os.Root) ([]string, error) {
	f, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// removeContents empties root, which SaveDir found empty, after a failed save; a symlink put
// in it is removed, never followed.
func removeContents(root *os.Root) error {
	names, err := dirNames(root)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, root.RemoveAll(n))
	}
	return errors.Join(errs...)
}
