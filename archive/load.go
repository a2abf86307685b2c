package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/freespace"
	"github.com/strata-run/strata/registry"
)

// ErrNoName is returned by Load when LoadOptions.Name would name more than one image the
// archive leaves unnamed. Without Name such images are stored unnamed (dangling), as docker
// load stores them.
var ErrNoName = errors.New("image has no name")

// LoadOptions tune Load and LoadDir. The zero value is valid.
type LoadOptions struct {
	// Platform picks the manifest of an index the archive names (a multi-platform image),
	// and only that platform is loaded. Zero keeps an index whole, as `save --all-platforms`
	// wrote it, when the archive holds every manifest and blob it lists (or the store has
	// them); an index the archive holds only part of (docker save of a multi-platform image
	// writes just the platforms it has) loads registry.DefaultPlatform's manifest.
	Platform v1.Platform
	// Name is the ref ("app:1") given to an image the archive leaves unnamed, as
	// `skopeo copy … oci-archive:FILE` without a name does. It must match one image only.
	Name string
	// TempDir is where a tar stream is staged before anything reaches the store; it should
	// be on the store's filesystem. "" means a new directory beside the store, removed when
	// Load returns.
	TempDir string
	// MaxSize bounds the bytes Load stages from a tar stream, decompressed: a gzip bomb
	// stops there (ErrTooLarge). 0 means DefaultMaxSize. Staging also stops before the
	// disk is left with less than 256 MiB free.
	MaxSize int64
	// Progress, if set, receives an Event per entry read, blob stored and ref tagged.
	Progress func(Event)
	// Unpacked and CheckLayer, if set, check before anything is stored each layer of the
	// archive's image manifests whose DiffID Unpacked says has a layer dir already (and
	// that no stored image pairs with that blob): CheckLayer reads the archive's blob and
	// fails unless it is that layer. Runs use the layer dir, not the archive's blob, so an
	// archive naming any blob with the DiffID of a layer here would run on that layer.
	Unpacked   func(diffID v1.Hash) bool
	CheckLayer func(ctx context.Context, layer v1.Descriptor, diffID v1.Hash, r io.Reader) error
	// Proven, if set, says which blob is known to be the layer of a DiffID (the layer
	// store's proofs): only those are spared CheckLayer, instead of those a stored image
	// pairs with it (see cache.WriteOptions.Proven).
	Proven func(blob, diffID v1.Hash) bool
}

// Loaded is one image Load stored and tagged.
type Loaded struct {
	// Ref is the full reference it is stored under: "docker.io/library/busybox:latest".
	Ref string
	// Manifest is the descriptor Ref names.
	Manifest v1.Descriptor
	// ID is the image ID, the digest of its config; for an index kept whole, its digest.
	ID v1.Hash
	// Platform is the platform the config of a single-platform image names (one the archive
	// lists by its manifest, not picked from an index for the platform wanted), for the
	// caller to warn of one that is not the platform asked for, as pull warns; nil for an
	// index, a manifest picked from one, or a config that names no OS.
	Platform *v1.Platform
	// Replaced is the ID of another image Ref named before the load moved it here (one
	// already in the store, or one the archive named the same before), which docker load
	// reports ("renaming the old one"); zero when Ref was new or named this image.
	Replaced v1.Hash
	// Ignored are the names the archive's index.json gives the image that it is not stored
	// under, for the caller to warn of: the image is loaded all the same.
	Ignored []Ignored
}

// Ignored is a name an archive gives an image that Load does not store it under, and why.
type Ignored struct {
	Name   string // as the archive gives it
	Reason error
}

// errForeignPin is why a name pinning a digest the archive does not list the image by is
// ignored.
var errForeignPin = errors.New("it pins a digest the archive does not list the image by")

// Load reads an image archive (docker-archive, old or new, or oci-archive) from the tar
// stream r into store and tags its images. A gzip, zstd or bzip2 compressed archive
// (`docker save | gzip`) is decompressed on the fly, as docker load does. Nothing is stored
// unless the whole archive is sound; see the package doc.
func Load(ctx context.Context, store *cache.Store, r io.Reader, opts LoadOptions) (loaded []Loaded, err error) {
	dir := opts.TempDir
	if dir == "" {
		dir = filepath.Dir(store.Dir())
	}
	// Held from the start: blobs the archive shares with the store are not staged, and
	// Prune must not remove them before the new refs reach them.
	release, err := store.Hold(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading archive: %w", err)
	}
	defer func() { err = errors.Join(err, release()) }()
	tmp, done, err := stagingDir(dir)
	if err != nil {
		return nil, fmt.Errorf("loading archive: %w", err)
	}
	defer func() { err = errors.Join(err, done()) }()
	r, closeDec, err := decompress(&cancelReader{ctx: ctx, r: r})
	if err != nil {
		return nil, fmt.Errorf("loading archive: %w", err)
	}
	defer closeDec()
	src, err := stage(ctx, store, r, tmp, opts.MaxSize, opts.Progress)
	if err != nil {
		return nil, fmt.Errorf("loading archive: %w", err)
	}
	src.sameFS = sameFS(tmp, store.Dir())
	loaded, err = load(ctx, store, src, opts)
	if err != nil {
		return nil, fmt.Errorf("loading archive: %w", err)
	}
	return loaded, nil
}

// LoadDir loads an OCI image layout directory (or an unpacked docker archive) into store,
// reading its files in place. Every manifest and size is checked before the first blob is
// stored; a blob whose bytes do not match its digest still fails in WriteBlob, after blobs
// before it may have been stored unreferenced (Prune removes them).
func LoadDir(ctx context.Context, store *cache.Store, dir string, opts LoadOptions) (loaded []Loaded, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("loading %s: not a directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	release, err := store.Hold(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	defer func() { err = errors.Join(err, release()) }()
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	defer root.Close()
	loaded, err = load(ctx, store, &dirSource{dir: abs, root: root}, opts)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	return loaded, nil
}

// load plans the images of src, then stores and tags them.
func load(ctx context.Context, store *cache.Store, src source, opts LoadOptions) ([]Loaded, error) {
	p := &plan{store: store, src: src, want: opts.Platform, seen: map[v1.Hash]int64{}, manifests: map[v1.Hash]bool{},
		tops: map[sized]resolvedManifest{}, resolved: map[sized]resolvedManifest{}, planned: map[sized]v1.Hash{}}
	if p.want.OS == "" {
		p.want = registry.DefaultPlatform()
		p.whole = true
	}
	if err := p.read(ctx); err != nil {
		return nil, err
	}
	if err := p.name(opts.Name); err != nil {
		return nil, err
	}
	if opts.Unpacked != nil && opts.CheckLayer != nil {
		if err := p.checkUnpacked(ctx, opts.Unpacked, opts.CheckLayer, opts.Proven); err != nil {
			return nil, err
		}
	}
	return p.commit(ctx, opts.Progress)
}

// checkUnpacked checks, for every image manifest the plan stores, the layers whose DiffID
// unpacked says has a layer dir, unless proven says the blob is that layer (or, without
// proven, a stored image pairs the two): check gets the blob, from the archive or the store.
func (p *plan) checkUnpacked(ctx context.Context, unpacked func(v1.Hash) bool, check func(context.Context, v1.Descriptor, v1.Hash, io.Reader) error, proven func(blob, diffID v1.Hash) bool) error {
	byDigest := make(map[v1.Hash]blob, len(p.blobs))
	for _, b := range p.blobs {
		byDigest[b.desc.Digest] = b
	}
	paired := proven
	for _, b := range p.blobs {
		// Whatever kind a descriptor lists it as: one strata does not know is never run,
		// but the store takes the first image of an index without this host's platform
		// for the pairing of its blobs and DiffIDs that spares later pulls their check.
		if !p.manifests[b.desc.Digest] {
			continue
		}
		raw, err := p.readPlanned(byDigest, b.desc, maxJSON)
		if err != nil {
			return err
		}
		var m v1.Manifest
		if json.Unmarshal(raw, &m) != nil || m.Config.Digest.Hex == "" || len(m.Layers) == 0 {
			continue // a config, a layer, an index: no image manifest
		}
		// Read whole, within a config's bound: cut at a manifest's, a config grown past
		// it did not parse, and its layers went unchecked.
		rawCfg, err := p.readPlanned(byDigest, m.Config, registry.MaxConfigSize)
		if err != nil {
			return err
		}
		if !json.Valid(rawCfg) {
			continue // an artifact's config: it names no layer dir
		}
		// The config of another platform was read by nothing before.
		if err := checkJSON(rawCfg, false); err != nil {
			return fmt.Errorf("image %s: config %s %w", short(b.desc.Digest), short(m.Config.Digest), err)
		}
		// Only what names the layer dirs is read: a config that another field spoils
		// (a created time that is no time) is checked all the same.
		var cfg struct {
			RootFS struct {
				DiffIDs []v1.Hash `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if json.Unmarshal(rawCfg, &cfg) != nil {
			continue
		}
		for i, l := range m.Layers {
			if i >= len(cfg.RootFS.DiffIDs) {
				break
			}
			diffID := cfg.RootFS.DiffIDs[i]
			if !unpacked(diffID) {
				continue
			}
			if paired == nil {
				paired = p.store.Paired()
			}
			if paired(l.Digest, diffID) {
				continue
			}
			if err := p.checkLayer(ctx, byDigest, l, diffID, check); err != nil {
				return fmt.Errorf("image %s: layer %s: %w", short(b.desc.Digest), short(l.Digest), err)
			}
		}
	}
	return nil
}

// readPlanned reads the JSON blob d, of at most max bytes, from the plan (the archive's
// bytes) or the store.
func (p *plan) readPlanned(byDigest map[v1.Hash]blob, d v1.Descriptor, max int64) ([]byte, error) {
	b, ok := byDigest[d.Digest]
	switch {
	case ok && b.data != nil:
		return b.data, nil
	case ok && b.entry != nil:
		f, err := b.entry.open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		raw, err := io.ReadAll(io.LimitReader(f, max+1))
		if err != nil {
			return nil, err
		}
		if int64(len(raw)) > max {
			return nil, fmt.Errorf("blob %s: %w: more than %d MiB", short(d.Digest), cache.ErrTooLarge, max>>20)
		}
		return raw, nil
	}
	return p.store.ReadBlob(d.Digest, max)
}

// checkLayer hands check the layer blob l, from the archive or the store.
func (p *plan) checkLayer(ctx context.Context, byDigest map[v1.Hash]blob, l v1.Descriptor, diffID v1.Hash, check func(context.Context, v1.Descriptor, v1.Hash, io.Reader) error) error {
	var r io.Reader
	if b, ok := byDigest[l.Digest]; ok && b.entry != nil {
		f, err := b.entry.open()
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	} else {
		rc, err := p.store.OpenBlob(l.Digest)
		if err != nil {
			return err
		}
		defer rc.Close()
		r = rc
	}
	// What check reads must be the blob the store will keep: a layout directory is read in
	// place, and one that gave the check the layer unpacked here and the store other
	// bytes (another user's directory, a network share) had those stored as that layer.
	// The stream ends in a mismatch instead of EOF when it is not the blob.
	v := &blobReader{r: r, desc: l, h: sha256.New()}
	if err := check(ctx, l, diffID, v); err != nil {
		return err
	}
	// A check that stopped early has vouched for the bytes it read only.
	if _, err := io.Copy(io.Discard, v); err != nil {
		return err
	}
	return nil
}

// blobReader reads the blob desc from r, ending with a size or digest mismatch instead of
// io.EOF when r is not that blob.
type blobReader struct {
	r    io.Reader
	desc v1.Descriptor
	h    hash.Hash
	n    int64
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	if b.n > b.desc.Size {
		return n, fmt.Errorf("blob %s: %w: more than the %d bytes its descriptor says", short(b.desc.Digest), cache.ErrSizeMismatch, b.desc.Size)
	}
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	if b.n != b.desc.Size {
		return n, fmt.Errorf("blob %s: %w: %d bytes, its descriptor says %d", short(b.desc.Digest), cache.ErrSizeMismatch, b.n, b.desc.Size)
	}
	if got := hex.EncodeToString(b.h.Sum(nil)); got != b.desc.Digest.Hex {
		return n, fmt.Errorf("blob %s: %w: content read hashes to sha256:%s", short(b.desc.Digest), cache.ErrDigestMismatch, got[:12])
	}
	return n, io.EOF
}

// commit stores every planned blob, then tags the images. The caller holds off Prune.
func (p *plan) commit(ctx context.Context, progress func(Event)) (loaded []Loaded, err error) {
	if err := p.checkRoom(); err != nil {
		return nil, err
	}
	for _, b := range p.blobs {
		if p.store.Has(b.desc) {
			report(progress, Event{Kind: Exists, Digest: b.desc.Digest, Size: b.desc.Size})
			continue
		}
		if err := p.writeBlob(ctx, b); err != nil {
			return nil, err
		}
		if p.frees(b) {
			// Stored: its staged copy, read by no other blob (one per digest), gives its
			// room back now, not when the load ends (see checkRoom).
			os.Remove(b.entry.path)
		}
		report(progress, Event{Kind: Stored, Digest: b.desc.Digest, Size: b.desc.Size})
	}
	for _, img := range p.images {
		desc := v1.Descriptor{MediaType: img.manifest.MediaType, Digest: img.manifest.Digest, Size: img.manifest.Size}
		var platform *v1.Platform
		if !desc.MediaType.IsIndex() && desc.Digest == img.listed {
			platform = p.configPlatform(img.config)
		}
		id := img.config
		if desc.MediaType.IsIndex() {
			id = desc.Digest
		}
		if len(img.refs) == 0 {
			loaded = append(loaded, Loaded{Manifest: desc, ID: id, Platform: platform, Ignored: img.ignored})
		}
		for _, ref := range img.refs {
			if index, ok := p.heldByIndex(ref, desc); ok {
				// The name gives an index that lists this very manifest (a save of one
				// platform of it, loaded back): the index stays, with every platform and
				// its digest, as docker's store keeps the index its own save wrote.
				report(progress, Event{Kind: Tagged, Name: ref, Digest: index.Digest, Size: index.Size})
				loaded = append(loaded, Loaded{Ref: ref, Manifest: index, ID: index.Digest, Ignored: img.ignored})
				continue
			}
			replaced := p.replaced(ref, id)
			if err := p.store.Tag(ref, desc); err != nil {
				return loaded, err
			}
			report(progress, Event{Kind: Tagged, Name: ref, Digest: desc.Digest, Size: desc.Size})
			loaded = append(loaded, Loaded{Ref: ref, Manifest: desc, ID: id, Platform: platform, Replaced: replaced, Ignored: img.ignored})
		}
	}
	return loaded, nil
}

// heldByIndex returns the index ref names in the store, and true, when it lists the manifest
// desc itself.
func (p *plan) heldByIndex(ref string, desc v1.Descriptor) (v1.Descriptor, bool) {
	if desc.MediaType.IsIndex() {
		return v1.Descriptor{}, false
	}
	prev, err := p.store.Resolve(ref)
	if err != nil || !prev.MediaType.IsIndex() {
		return v1.Descriptor{}, false
	}
	raw, err := p.store.ReadBlob(prev.Digest, registry.MaxManifestSize)
	if err != nil {
		return v1.Descriptor{}, false
	}
	var index v1.IndexManifest
	if json.Unmarshal(raw, &index) != nil {
		return v1.Descriptor{}, false
	}
	for _, m := range index.Manifests {
		if m.Digest == desc.Digest {
			return prev, true
		}
	}
	return v1.Descriptor{}, false
}

// replaced is the ID of the image ref names in the store when it is not id, else zero: for
// the caller to say that the load moved the name, as docker load says.
func (p *plan) replaced(ref string, id v1.Hash) v1.Hash {
	prev, err := p.store.Resolve(ref)
	if err != nil {
		return v1.Hash{}
	}
	prevID := prev.Digest // an index's ID, and the manifest's if its config cannot be read
	if !prev.MediaType.IsIndex() {
		if info, err := p.store.Info(cache.Ref{Name: ref, Descriptor: prev}); err == nil {
			prevID = info.ID
		}
	}
	if prevID == id {
		return v1.Hash{}
	}
	return prevID
}

// configPlatform is the platform the stored config h names, or nil when it names no OS or
// cannot be read (the load stands: the platform is for a warning only).
func (p *plan) configPlatform(h v1.Hash) *v1.Platform {
	raw, err := p.store.ReadBlob(h, registry.MaxConfigSize)
	if err != nil {
		return nil
	}
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if json.Unmarshal(raw, &cfg) != nil || cfg.OS == "" {
		return nil
	}
	return &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
}

// checkRoom refuses a load whose blobs would leave the store's disk less than its floor (freespace.Floor)
// free. WriteBlob copies each blob whole and checks no free space of its own: a layout
// directory holding a sparse file of a terabyte (a few bytes of a tar.gz, unpacked by GNU
// tar) under a descriptor that matches it was copied until the disk was full.
//
// A blob staged on the store's filesystem has its staged copy removed once it is stored
// (frees): it needs room only while both copies exist, so all of them together need the
// largest one's size, not their sum. Counting the sum refused, on a disk with room for the
// archive once and a bit, loads that fit.
func (p *plan) checkRoom() error {
	room, ok := storeRoom(p.store)
	if !ok {
		return nil // unknown: ENOSPC is the bound
	}
	var need, largest int64
	for _, b := range p.blobs {
		if b.entry == nil && b.data == nil || b.desc.Size == 0 || p.store.Has(b.desc) {
			continue
		}
		if b.desc.Size > room-need {
			return errNoRoom(p.store, need+b.desc.Size, true)
		}
		if p.frees(b) {
			largest = max(largest, b.desc.Size)
			continue
		}
		need += b.desc.Size
	}
	// Nothing to store (every blob already there: a load that only tags) needs no room, on
	// a disk however full: it failed "its blobs need 0 KiB … which has 0 KiB free".
	if largest > 0 && largest > room-need {
		return errNoRoom(p.store, need+largest, false)
	}
	return nil
}

// frees reports whether storing b lets commit remove its staged copy from the store's
// filesystem.
func (p *plan) frees(b blob) bool {
	src, ok := p.src.(*stagedSource)
	return ok && src.sameFS && b.entry != nil && b.entry.staged
}

// sameFS reports whether paths a and b are on one filesystem.
func sameFS(a, b string) bool {
	var sa, sb unix.Stat_t
	return unix.Stat(a, &sa) == nil && unix.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

// fits refuses an entry of a layout directory larger than the store's disk has room for,
// before it is hashed: reading a sparse file of a terabyte takes the better part of an hour.
func (p *plan) fits(e *entry) error {
	if room, ok := storeRoom(p.store); ok && e.digest.Hex == "" && e.size > room {
		return fmt.Errorf("%s: %w", e.name, errNoRoom(p.store, e.size, false))
	}
	return nil
}

// storeRoom is the space the store's disk has for blobs, keeping its floor free; ok is
// false when statfs cannot tell.
func storeRoom(s *cache.Store) (room int64, ok bool) {
	var fs unix.Statfs_t
	if err := unix.Statfs(s.Dir(), &fs); err != nil || fs.Blocks == 0 {
		return 0, false // a filesystem that reports no size (some FUSE ones) tells nothing
	}
	return int64(fs.Bavail)*fs.Bsize - freespace.OfBlocks(fs.Blocks, fs.Bsize), true
}

// errNoRoom says that storing need bytes (at least need, when more is counted only past it)
// does not fit the store's disk, with what it has free: "would leave less than 0.0 MiB free"
// alone, on a small disk, left the user to work out how much was missing.
func errNoRoom(s *cache.Store, need int64, atLeast bool) error {
	floor := freespace.Default
	var free int64 = -1
	var fs unix.Statfs_t
	if unix.Statfs(s.Dir(), &fs) == nil {
		floor = freespace.OfBlocks(fs.Blocks, fs.Bsize)
		free = int64(fs.Bavail) * fs.Bsize
	}
	some := ""
	if atLeast {
		some = "at least "
	}
	if free < 0 {
		return fmt.Errorf("%w: its blobs need %s%s in %s, and it must keep %s free", ErrTooLarge, some, mib(need), s.Dir(), mib(floor))
	}
	return fmt.Errorf("%w: its blobs need %s%s in %s, which has %s free and must keep %s of it free", ErrTooLarge, some, mib(need), s.Dir(), mib(free), mib(floor))
}

// mib is n bytes in MiB, with one decimal below 10 MiB, or in KiB below 1 MiB.
func mib(n int64) string {
	switch {
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", (n+1023)>>10)
	case n < 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

func (p *plan) writeBlob(ctx context.Context, b blob) error {
	var r io.Reader
	if b.data != nil {
		r = bytes.NewReader(b.data)
	} else {
		if b.entry == nil {
			return fmt.Errorf("blob %s: %w: it left the store while loading", short(b.desc.Digest), cache.ErrNotFound)
		}
		f, err := b.entry.open()
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	return p.store.WriteBlob(ctx, b.desc, r)
}

// zstdMaxWindow bounds what a zstd frame header can make the decoder allocate (its default is
// 512 MiB, from a header of a few bytes). 128 MiB covers `zstd --long`, as layers allows.
const zstdMaxWindow = 128 << 20

// decompress returns r, or a reader that decompresses it when it starts with the magic
// number of gzip, zstd or bzip2 (docker load reads xz too, which is refused here, see
// below). The returned func releases the decoder. What the decoders allocate is bounded here
// (zstd's window; bzip2's blocks are 900 kB at most), and what they expand to by staging's
// MaxSize.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, copyBufSize)
	head, err := br.Peek(len(xzMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("reading archive: %w", err)
	}
	switch {
	case isGzip(head):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("reading gzip archive: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case isZstd(head):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(zstdMaxWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("reading zstd archive: %w", err)
		}
		return zstdReader{zr}, zr.Close, nil
	case isXz(head):
		// Go's xz decoder allocates whatever dictionary a block header asks for (up to 4 GiB
		// from one byte), and a chunk that declares more packed bytes than it uses hides the
		// next block header from any check made outside the decoder: not read, said how to.
		return nil, nil, errors.New("xz-compressed archives are not supported: decompress it first (xz -d), or save it with gzip or zstd")
	case isBzip2(head):
		return bzip2.NewReader(br), func() {}, nil
	}
	return br, func() {}, nil
}

// zstdReader says what to do with an archive whose zstd window is more than zstdMaxWindow:
// `docker save | zstd --long=31` (any --long over 27 on a stream, whose size zstd cannot
// shrink the window to) failed with just "window size exceeded", and `zstd -d` of it fails
// too unless given the same --long.
type zstdReader struct{ r io.Reader }

func (z zstdReader) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) {
		err = fmt.Errorf("zstd archive: %w: its window is more than the %d MiB allowed (zstd --long=28 or more): decompress it first (zstd -d --long=31), or compress it with at most --long=27", err, zstdMaxWindow>>20)
	}
	return n, err
}

// cancelReader is the archive's stream, each Read run in a goroutine so that it returns
// when ctx is done even while the read waits: a pipe whose writer stalls (a hung ssh behind
// `docker save | strata load`) or a FIFO no one writes yet blocks in read(2), where no
// cancel reaches, and the SIGTERM of timeout(1) or a service stop was ignored until data
// came. The read left waiting ends with the process; its bytes, in buf, are never used.
type cancelReader struct {
	ctx context.Context
	r   io.Reader
	// buf is the pending read's, not p: a Read abandoned on cancel must not write into a
	// buffer its caller has since reused.
	buf     []byte
	pending chan readResult
}

type readResult struct {
	n   int
	err error
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.pending == nil {
		if len(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		buf, ch := c.buf[:len(p)], make(chan readResult, 1)
		c.pending = ch
		go func() {
			n, err := c.r.Read(buf)
			ch <- readResult{n, err}
		}()
	}
	select {
	case res := <-c.pending:
		c.pending = nil
		// The read was of len(p) bytes: only a cancel leaves one pending past its Read,
		// and every Read after a cancel ends above.
		return copy(p, c.buf[:res.n]), res.err
	case <-c.ctx.Done():
		return 0, c.ctx.Err()
	}
}

// isBzip2 reports whether b starts a bzip2 stream: "BZh" and the block size, 1 to 9.
func isBzip2(b []byte) bool {
	return len(b) >= 4 && string(b[:3]) == "BZh" && b[3] >= '1' && b[3] <= '9'
}

// xzMagic starts an xz stream.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

func isXz(b []byte) bool { return bytes.HasPrefix(b, xzMagic) }
