package cache

import (
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Bounds on what one index may reach. Registries and archives are hostile: without them an
// index could nest without end or list millions of manifests, each a request.
const (
	// MaxIndexDepth is how deep indexes may nest below the one a ref names. Real images nest
	// none (an index of manifests); an index of indexes is rare and shallow.
	MaxIndexDepth = 4
	// MaxIndexManifests is how many manifests one ref's index tree may list in all. Docker
	// Hub's official images list under 30 (platforms and their attestations).
	MaxIndexManifests = 1024
)

// ErrInvalidIndex is returned for an index strata refuses: nested too deep, listing too many
// manifests, or listing itself.
var ErrInvalidIndex = errors.New("invalid index")

// indexEntry is one image manifest an index tree lists, with the platform its index entry
// gives (nil if none).
type indexEntry struct {
	desc     v1.Descriptor
	platform *v1.Platform
}

// indexWalk checks an index tree while it is read, wherever the manifests come from: the
// count of manifests, the depth, and cycles.
type indexWalk struct {
	total int
}

// enter checks the index d (at depth, below the ancestors on its path) that lists children.
func (w *indexWalk) enter(d v1.Descriptor, children []v1.Descriptor, depth int, ancestors []v1.Hash) error {
	if depth > MaxIndexDepth {
		return fmt.Errorf("index %s: %w: indexes nested more than %d deep", short(d.Digest), ErrInvalidIndex, MaxIndexDepth)
	}
	w.total += len(children)
	if w.total > MaxIndexManifests {
		return fmt.Errorf("index %s: %w: it lists more than %d manifests", short(d.Digest), ErrInvalidIndex, MaxIndexManifests)
	}
	for _, c := range children {
		if err := checkHash(c.Digest); err != nil {
			return fmt.Errorf("index %s: %w", short(d.Digest), err)
		}
		if c.Size < 0 || c.Size > maxSmallBlob {
			return fmt.Errorf("index %s: manifest %s: %w: size %d", short(d.Digest), short(c.Digest), ErrSizeMismatch, c.Size)
		}
		if c.Digest == d.Digest {
			return fmt.Errorf("index %s: %w: it lists itself", short(d.Digest), ErrInvalidIndex)
		}
		for _, a := range ancestors {
			if c.Digest == a {
				return fmt.Errorf("index %s: %w: it lists %s, an index above it", short(d.Digest), ErrInvalidIndex, short(a))
			}
		}
	}
	return nil
}

// childIsIndex tells an index entry that is an index from one that is a manifest. Entries
// without a media type are read as manifests: image-spec requires it on index entries.
func childIsIndex(d v1.Descriptor) bool { return d.MediaType.IsIndex() }

// readIndexManifest reads and parses a stored index.
func (s *Store) readIndexManifest(d v1.Descriptor) (*v1.IndexManifest, error) {
	raw, err := s.ReadBlob(d.Digest, maxSmallBlob)
	if err != nil {
		return nil, err
	}
	var im v1.IndexManifest
	if err := parseBlob(raw, &im); err != nil {
		return nil, fmt.Errorf("parsing index %s: %w", short(d.Digest), err)
	}
	return &im, nil
}

// indexTree reads the stored index d and the indexes below it: it returns every image
// manifest they list (in the order listed, depth first) and every index, children before
// parents, d last.
func (s *Store) indexTree(d v1.Descriptor) (images []indexEntry, indexes []v1.Descriptor, err error) {
	var w indexWalk
	var visit func(d v1.Descriptor, depth int, ancestors []v1.Hash) error
	visit = func(d v1.Descriptor, depth int, ancestors []v1.Hash) error {
		im, err := s.readIndexManifest(d)
		if err != nil {
			return err
		}
		if err := w.enter(d, im.Manifests, depth, ancestors); err != nil {
			return err
		}
		below := append(ancestors[:len(ancestors):len(ancestors)], d.Digest)
		for _, c := range im.Manifests {
			if childIsIndex(c) {
				if err := visit(c, depth+1, below); err != nil {
					return err
				}
				continue
			}
			images = append(images, indexEntry{desc: c, platform: c.Platform})
		}
		indexes = append(indexes, v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
		return nil
	}
	if err := visit(d, 0, nil); err != nil {
		return nil, nil, err
	}
	return images, indexes, nil
}

// ImageFor returns the image manifest descriptor to run for ref on platform want: ref's own
// descriptor when it names an image manifest (whatever its platform, as docker runs a
// single-platform image and at most warns), or, when it names an index, the first manifest the
// index lists for want. An index without one is a *PlatformError (ErrNoPlatform) naming the
// platforms it has.
func (s *Store) ImageFor(ref Ref, want v1.Platform) (v1.Descriptor, error) {
	if !ref.Descriptor.MediaType.IsIndex() {
		return ref.Descriptor, nil
	}
	images, _, err := s.indexTree(ref.Descriptor)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading index of %s: %w", ref.Name, err)
	}
	if d, ok := matchEntry(images, want); ok {
		return d.desc, nil
	}
	perr := &PlatformError{Ref: ref.Name, Want: want}
	for _, e := range images {
		if e.platform != nil && !isAttestation(e.platform) && runnableKind(e.desc.MediaType) {
			perr.Available = append(perr.Available, *e.platform)
		}
	}
	return v1.Descriptor{}, perr
}

// runnableKind reports whether an index entry listed with media type mt may be the image that
// runs: an image manifest, or an entry that names no type. The image-spec says an entry of a
// type the implementation does not know "MUST be ignored": an SBOM listed with the platform
// of the image it describes, ahead of it, was picked to run (nothing of it unpacked, and the
// image listed after it never used). It is stored all the same.
func runnableKind(mt types.MediaType) bool { return mt == "" || mt.IsImage() }

// matchEntry picks the first image listed for want: an index lists its preferred manifest
// first, and docker picks the same way.
func matchEntry(images []indexEntry, want v1.Platform) (indexEntry, bool) {
	for _, e := range images {
		if e.platform != nil && runnableKind(e.desc.MediaType) && PlatformMatches(want, *e.platform) {
			return e, true
		}
	}
	return indexEntry{}, false
}

// Blobs lists every blob the stored manifest or index d reaches: layers, configs, image
// manifests, then indexes, children before the indexes that list them and d itself last, each
// once. A missing manifest or index is ErrNotFound; configs and layers are listed without
// being looked for, so a caller that needs them present checks with HasBlob.
func (s *Store) Blobs(d v1.Descriptor) ([]v1.Descriptor, error) {
	blobs, err := s.blobs(d)
	if err != nil {
		return nil, fmt.Errorf("listing blobs of %s: %w", short(d.Digest), err)
	}
	return blobs, nil
}

func (s *Store) blobs(d v1.Descriptor) ([]v1.Descriptor, error) {
	images := []indexEntry{{desc: d}}
	var indexes []v1.Descriptor
	if d.MediaType.IsIndex() {
		var err error
		if images, indexes, err = s.indexTree(d); err != nil {
			return nil, err
		}
	}
	var out []v1.Descriptor
	seen := map[v1.Hash]bool{}
	add := func(b v1.Descriptor) {
		if !seen[b.Digest] {
			seen[b.Digest] = true
			out = append(out, v1.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
		}
	}
	var manifests []v1.Descriptor
	for _, e := range images {
		m, err := s.readManifest(e.desc.Digest)
		if err != nil {
			return nil, err
		}
		for _, l := range m.Layers {
			add(l)
		}
		add(m.Config)
		manifests = append(manifests, e.desc)
	}
	for _, m := range manifests {
		add(m)
	}
	for _, x := range indexes {
		add(x)
	}
	return out, nil
}

// readManifest reads and parses a stored image manifest, checking the digests it names.
func (s *Store) readManifest(h v1.Hash) (*v1.Manifest, error) {
	raw, err := s.ReadBlob(h, maxSmallBlob)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := parseBlob(raw, &m); err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", short(h), err)
	}
	if listsManifests(raw, &m) {
		return nil, fmt.Errorf("manifest %s is an index, listed as an image", short(h))
	}
	if err := checkHash(m.Config.Digest); err != nil {
		return nil, fmt.Errorf("manifest %s: config: %w", short(h), err)
	}
	for _, l := range m.Layers {
		if err := checkHash(l.Digest); err != nil {
			return nil, fmt.Errorf("manifest %s: layer: %w", short(h), err)
		}
	}
	return &m, nil
}

// listsManifests reports whether raw, parsed as the image manifest m, is an index all the
// same. readManifest refuses to read one back as an image (and Info with it, for the whole
// store), so the writers refuse to store one as an image.
func listsManifests(raw []byte, m *v1.Manifest) bool {
	var probe struct {
		Manifests json.RawMessage `json:"manifests"`
	}
	return m.MediaType.IsIndex() || (json.Unmarshal(raw, &probe) == nil && probe.Manifests != nil)
}

// Complete reports whether every blob the stored manifest or index d reaches is in the store,
// so that saving, pushing or serving it needs nothing from the network.
func (s *Store) Complete(d v1.Descriptor) bool {
	blobs, err := s.blobs(d)
	if err != nil {
		return false
	}
	for _, b := range blobs {
		if !s.hasBlobSized(b) {
			return false
		}
	}
	return true
}

// LayerPair is a layer blob as an image manifest lists it, and the DiffID its config pairs
// with it by position.
type LayerPair struct {
	Blob   v1.Descriptor
	DiffID v1.Hash
}

// LayerPairs lists, for every image manifest the stored manifest or index d reaches, each
// layer its config pairs with a DiffID, each pair once: what save and push check against the
// layer dirs here before they write the blobs. A config that is no image config pairs nothing.
func (s *Store) LayerPairs(d v1.Descriptor) ([]LayerPair, error) {
	images := []indexEntry{{desc: d}}
	if d.MediaType.IsIndex() {
		var err error
		if images, _, err = s.indexTree(d); err != nil {
			return nil, fmt.Errorf("listing layers of %s: %w", short(d.Digest), err)
		}
	}
	var out []LayerPair
	seen := map[[2]v1.Hash]bool{}
	for _, e := range images {
		m, err := s.readManifest(e.desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("listing layers of %s: %w", short(d.Digest), err)
		}
		if len(m.Layers) == 0 {
			continue
		}
		raw, err := s.ReadBlob(m.Config.Digest, maxSmallBlob)
		if err != nil {
			return nil, fmt.Errorf("listing layers of %s: config %s: %w", short(d.Digest), short(m.Config.Digest), err)
		}
		diffIDs := claimedDiffIDs(raw)
		for i, l := range m.Layers {
			if i >= len(diffIDs) {
				break
			}
			k := [2]v1.Hash{l.Digest, diffIDs[i]}
			if !seen[k] {
				seen[k] = true
				out = append(out, LayerPair{Blob: v1.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size}, DiffID: diffIDs[i]})
			}
		}
	}
	return out, nil
}
