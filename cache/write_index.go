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
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/strata-run/strata/internal/imageconfig"
)

// WriteIndex stores a multi-platform image whole: the index, every manifest it lists (indexes
// within it too, up to MaxIndexDepth), their configs and layers; then makes ref name the
// index. It is WriteImage for every platform at once: blobs already stored are not fetched
// again, layers download concurrently (Concurrency counts across platforms) through resumable
// ingest files, every blob is verified, and the ref is tagged last. Only the image the index
// lists for opts.Platform has its layers handed to opts.Layer to unpack; an index without one
// is stored all the same, with nothing unpacked. A layer of another platform whose DiffID is
// unpacked here already is handed to it too, to be checked (see WriteOptions.Platform).
//
// Manifests are read and checked before any layer is fetched: an index listing more than
// MaxIndexManifests manifests, nested deeper than MaxIndexDepth, or listing an index above it
// is ErrInvalidIndex, and a manifest whose bytes do not hash to the digest its index gives is
// ErrDigestMismatch. Then nothing is stored.
//
// WriteResult.ID is the index's digest, as docker's containerd image store shows it.
func (s *Store) WriteIndex(ctx context.Context, ref string, idx v1.ImageIndex, opts WriteOptions) (WriteResult, error) {
	res, err := s.writeIndex(ctx, ref, idx, opts)
	if err != nil {
		// No ref: the caller names the image it pulls or loads, once.
		return res, fmt.Errorf("writing image: %w", err)
	}
	return res, nil
}

// indexPlan is what WriteIndex stores, read and checked before anything is stored.
type indexPlan struct {
	walk indexWalk
	// images are the image manifests, once each, in the order the index tree lists them.
	images []*plannedImage
	seen   map[v1.Hash]bool
	// indexes are the index blobs, children before parents, the root last.
	indexes []plannedBlob
	// held counts the bytes of indexes, manifests and configs the plan keeps, against
	// maxPlanned.
	held atomic.Int64
}

// maxPlanned bounds what one WriteIndex holds in memory before it stores anything: each
// manifest, config and index is bounded alone, but MaxIndexManifests manifests with configs
// of 16 MiB each would be 16 GiB. Real trees are a few MB. A var for tests.
var maxPlanned int64 = 128 << 20

// hold counts n more bytes kept by the plan.
func (p *indexPlan) hold(n int) error {
	if p.held.Add(int64(n)) > maxPlanned {
		return fmt.Errorf("%w: its manifests, configs and indexes come to more than %d MiB", ErrTooLarge, maxPlanned>>20)
	}
	return nil
}

type plannedImage struct {
	// src is the index that lists the image; planImages reads it from there.
	src    v1.ImageIndex
	listed v1.Descriptor

	entry     indexEntry
	raw       []byte
	manifest  v1.Manifest
	rawConfig []byte
	img       v1.Image
}

type plannedBlob struct {
	desc v1.Descriptor
	raw  []byte
}

func (s *Store) writeIndex(ctx context.Context, ref string, idx v1.ImageIndex, opts WriteOptions) (res WriteResult, err error) {
	if err := checkRef(ref); err != nil {
		return res, namedRefErr(ref, err)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 3
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.Platform.OS == "" {
		opts.Platform = hostPlatform()
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return res, fmt.Errorf("reading index: %w", err)
	}
	mt, err := idx.MediaType()
	if err != nil {
		return res, fmt.Errorf("reading index media type: %w", err)
	}
	if mt == "" {
		mt = types.OCIImageIndex
	}
	if !mt.IsIndex() {
		return res, fmt.Errorf("%w: media type %s is not an index", ErrInvalidIndex, mt)
	}
	root := v1.Descriptor{MediaType: mt, Digest: digestOf(raw), Size: int64(len(raw))}
	p := &indexPlan{seen: map[v1.Hash]bool{}}
	if err := s.planIndex(ctx, p, idx, root, raw, 0, nil); err != nil {
		return res, err
	}
	if len(p.images) == 0 {
		// Nothing to run or inspect: tagged, it would fail `images` and `prune` for the
		// whole store (Infos) until removed.
		return res, fmt.Errorf("index %s: %w: it lists no images", short(root.Digest), ErrInvalidIndex)
	}
	if err := s.planImages(ctx, p, opts.Concurrency); err != nil {
		return res, err
	}
	res.Manifest = root
	res.ID = root.Digest

	var entries []indexEntry
	for _, img := range p.images {
		entries = append(entries, img.entry)
	}
	var jobs []layerJob
	fetchFrom := map[v1.Hash]v1.Image{}
	unpack, ok := matchEntry(entries, opts.Platform)
	for _, img := range p.images {
		var diffIDs []v1.Hash
		doUnpack := ok && img.entry.desc.Digest == unpack.desc.Digest && opts.Layer != nil
		if doUnpack {
			// Only the image that runs here is unpacked, so only its config must pair each
			// layer with a DiffID; other entries may be artifacts with configs of any shape.
			var cfg v1.ConfigFile
			if err := parseBlob(img.rawConfig, &cfg); err != nil {
				return res, fmt.Errorf("parsing config %s: %w", short(img.manifest.Config.Digest), err)
			}
			if err := imageconfig.CheckRootFS(img.rawConfig); err != nil {
				return res, fmt.Errorf("config %s: %w", short(img.manifest.Config.Digest), err)
			}
			if len(cfg.RootFS.DiffIDs) != len(img.manifest.Layers) {
				return res, fmt.Errorf("manifest %s has %d layers but its config %d diff ids", short(img.entry.desc.Digest), len(img.manifest.Layers), len(cfg.RootFS.DiffIDs))
			}
			diffIDs = cfg.RootFS.DiffIDs
		}
		if !doUnpack && opts.Layer != nil {
			// Another platform is not unpacked, but a layer of it may be unpacked here
			// already (by another image): run --platform would use that layer dir, and save
			// and push the blob the index names for it, so the blob is checked to be that
			// layer as this host's are. Only what its config pairs can be checked; a config
			// that pairs nothing (an artifact's) names no layer dir to run on.
			diffIDs = claimedDiffIDs(img.rawConfig)
		}
		for i, l := range img.manifest.Layers {
			j := layerJob{desc: l, unpack: doUnpack}
			if i < len(diffIDs) {
				j.diffID, j.check = diffIDs[i], !doUnpack
			}
			jobs = append(jobs, j)
			if _, ok := fetchFrom[l.Digest]; !ok {
				fetchFrom[l.Digest] = img.img
			}
		}
	}
	if opts.Fetch == nil {
		opts.Fetch = indexFetcher(fetchFrom)
	}

	// Held until the tag is written: Prune would otherwise see the new blobs as garbage.
	gc, err := s.lockGC(ctx, false)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, gc.Unlock()) }()

	stored, fetched, err := s.writeLayers(ctx, jobs, opts)
	res.Bytes = fetched
	res.Downloaded = stored
	if err != nil {
		return res, err
	}
	for _, img := range p.images {
		wrote, err := s.writeBlob(ctx, img.manifest.Config, bytes.NewReader(img.rawConfig))
		if err != nil {
			return res, fmt.Errorf("writing config %s: %w", short(img.manifest.Config.Digest), err)
		}
		res.Downloaded = res.Downloaded || wrote
	}
	for _, img := range p.images {
		wrote, err := s.writeBlob(ctx, img.entry.desc, bytes.NewReader(img.raw))
		if err != nil {
			return res, fmt.Errorf("writing manifest %s: %w", short(img.entry.desc.Digest), err)
		}
		res.Downloaded = res.Downloaded || wrote
	}
	for _, x := range p.indexes {
		wrote, err := s.writeBlob(ctx, x.desc, bytes.NewReader(x.raw))
		if err != nil {
			return res, fmt.Errorf("writing index %s: %w", short(x.desc.Digest), err)
		}
		res.Downloaded = res.Downloaded || wrote
	}
	tagged := root
	if len(opts.Annotations) > 0 {
		tagged.Annotations = opts.Annotations
	}
	res.Previous, err = s.tag(ctx, ref, tagged)
	if err != nil {
		return res, fmt.Errorf("tagging: %w", err)
	}
	res.Updated = res.Previous == nil || res.Previous.Digest != root.Digest
	return res, nil
}

// claimedDiffIDs returns the DiffIDs a config of another platform pairs with its layers, by
// position as Infos and run read them, or none when it is no image config: such an image
// names no layer dir.
func claimedDiffIDs(rawConfig []byte) []v1.Hash {
	var cfg struct {
		RootFS struct {
			DiffIDs []v1.Hash `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if json.Unmarshal(rawConfig, &cfg) != nil {
		return nil
	}
	return cfg.RootFS.DiffIDs
}

// planIndex reads the index d (whose bytes are raw, already verified) and the indexes below
// it into p, checking their bounds before anything else is fetched; the image manifests they
// list are left for planImages.
func (s *Store) planIndex(ctx context.Context, p *indexPlan, idx v1.ImageIndex, d v1.Descriptor, raw []byte, depth int, ancestors []v1.Hash) error {
	if len(raw) > maxSmallBlob {
		return fmt.Errorf("reading index %s: %w: more than %d bytes", short(d.Digest), ErrTooLarge, maxSmallBlob)
	}
	if err := p.hold(len(raw)); err != nil {
		return fmt.Errorf("index %s: %w", short(d.Digest), err)
	}
	var im v1.IndexManifest
	if err := parseBlob(raw, &im); err != nil {
		return fmt.Errorf("parsing index %s: %w", short(d.Digest), err)
	}
	if err := p.walk.enter(d, im.Manifests, depth, ancestors); err != nil {
		return err
	}
	below := append(ancestors[:len(ancestors):len(ancestors)], d.Digest)
	for _, c := range im.Manifests {
		if err := context.Cause(ctx); err != nil {
			return err
		}
		if p.seen[c.Digest] {
			continue
		}
		p.seen[c.Digest] = true
		if childIsIndex(c) {
			sub, err := idx.ImageIndex(c.Digest)
			if err != nil {
				return fmt.Errorf("index %s: reading index %s: %w", short(d.Digest), short(c.Digest), err)
			}
			craw, err := sub.RawManifest()
			if err != nil {
				return fmt.Errorf("index %s: reading index %s: %w", short(d.Digest), short(c.Digest), err)
			}
			if err := verifyListed(c, craw); err != nil {
				return fmt.Errorf("index %s: index %s: %w", short(d.Digest), short(c.Digest), err)
			}
			if err := s.planIndex(ctx, p, sub, c, craw, depth+1, below); err != nil {
				return err
			}
			continue
		}
		p.images = append(p.images, &plannedImage{src: idx, listed: c, entry: indexEntry{desc: c, platform: c.Platform}})
	}
	p.indexes = append(p.indexes, plannedBlob{desc: v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, raw: raw})
	return nil
}

// planImages reads every image manifest the index tree lists, and its config, up to
// concurrency at once: an index of a dozen platforms and their attestations is two dozen
// round trips to the registry before the first layer. The first failure, in listed order,
// is returned; once one is seen no more are started. They were all read whatever failed: an
// index of MaxIndexManifests entries whose every read stalls (a minute, tried twice) held
// a pull for hours, a few at a time, to fail with the first one's error. Reads start in listed
// order, so the first listed failure is always among those started.
func (s *Store) planImages(ctx context.Context, p *indexPlan, concurrency int) error {
	images := p.images
	errs := make([]error, len(images))
	sem := make(chan struct{}, concurrency)
	var (
		wg     sync.WaitGroup
		failed atomic.Bool
	)
start:
	for i, pi := range images {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = context.Cause(ctx)
			break start
		}
		if failed.Load() {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Over the bound already: nothing more is fetched.
			err := p.hold(0)
			if err == nil {
				err = s.planImage(pi)
			}
			if err == nil {
				err = p.hold(len(pi.raw) + len(pi.rawConfig))
			}
			if err != nil {
				errs[i] = fmt.Errorf("manifest %s: %w", short(pi.listed.Digest), err)
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// planImage reads one image manifest an index lists, and its config, into pi.
func (s *Store) planImage(pi *plannedImage) error {
	c := pi.listed
	img, err := pi.src.Image(c.Digest)
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if err := verifyListed(c, raw); err != nil {
		return err
	}
	var m v1.Manifest
	if err := parseBlob(raw, &m); err != nil {
		return fmt.Errorf("parsing: %w", err)
	}
	if listsManifests(raw, &m) {
		return fmt.Errorf("%w: an index, listed as an image", ErrInvalidIndex)
	}
	if err := checkHash(m.Config.Digest); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if m.Config.Size < 0 || m.Config.Size > maxSmallBlob {
		return fmt.Errorf("config %s: %w: size %d", short(m.Config.Digest), ErrSizeMismatch, m.Config.Size)
	}
	mt := c.MediaType
	if mt == "" {
		mt = m.MediaType
	}
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	rawConfig, err := s.storedOr(m.Config, img.RawConfigFile)
	if err != nil {
		return fmt.Errorf("reading config %s: %w", short(m.Config.Digest), err)
	}
	// Only the config of the image unpacked here is parsed now; the others are when their
	// platform is inspected or run. An artifact's config that is not JSON is never parsed.
	if json.Valid(rawConfig) {
		if err := checkValues(rawConfig); err != nil {
			return fmt.Errorf("config %s: %w", short(m.Config.Digest), err)
		}
	}
	pi.entry = indexEntry{desc: v1.Descriptor{MediaType: mt, Digest: c.Digest, Size: c.Size}, platform: c.Platform}
	pi.raw, pi.manifest, pi.rawConfig, pi.img = raw, m, rawConfig, img
	return nil
}

// verifyListed checks that raw is what the index entry d says: its size and its digest. A
// registry that answers a digest with other bytes (or with the index itself) stops here.
func verifyListed(d v1.Descriptor, raw []byte) error {
	if int64(len(raw)) != d.Size {
		return fmt.Errorf("%w: %d bytes, the index says %d", ErrSizeMismatch, len(raw), d.Size)
	}
	if got := digestOf(raw); got != d.Digest {
		return fmt.Errorf("%w: content hashes to %s", ErrDigestMismatch, short(got))
	}
	return nil
}

func digestOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// indexFetcher is the Fetcher used without WriteOptions.Fetch: each layer comes from an image
// of the index that lists it, read from the start and skipped to offset.
func indexFetcher(from map[v1.Hash]v1.Image) Fetcher {
	return func(ctx context.Context, h v1.Hash, offset int64) (io.ReadCloser, error) {
		img, ok := from[h]
		if !ok {
			return nil, fmt.Errorf("blob %s: %w in the index", short(h), ErrNotFound)
		}
		return imageFetcher(img)(ctx, h, offset)
	}
}
