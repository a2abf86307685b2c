package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrAmbiguous is returned by FindImage when a digest prefix matches more than one image.
var ErrAmbiguous = errors.New("ambiguous image reference")

// Image returns the stored image whose manifest has digest manifest, reading its config and
// layers from the store. Blobs are opened lazily: a missing layer is an error from its
// Compressed method, wrapping ErrNotFound.
func (s *Store) Image(manifest v1.Hash) (v1.Image, error) {
	img, err := s.image(manifest)
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", short(manifest), err)
	}
	return partial.CompressedToImage(img)
}

// storeImage is the minimal core that partial.CompressedToImage turns into a v1.Image.
type storeImage struct {
	s   *Store
	raw []byte
	mt  types.MediaType
	m   *v1.Manifest

	// config is the config blob once read: partial asks for it for the image's ID and again
	// for its ConfigFile, and each read opens, reads and hashes the blob.
	configMu sync.Mutex
	config   []byte
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (s *Store) image(manifest v1.Hash) (*storeImage, error) {
	raw, err := s.ReadBlob(manifest, maxSmallBlob)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := parseBlob(raw, &m); err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	mt := m.MediaType
	switch {
	case mt.IsIndex():
		return nil, fmt.Errorf("manifest is an index (%s), not an image", mt)
	case mt == "" && m.Config.MediaType == types.DockerConfigJSON:
		mt = types.DockerManifestSchema2
	case mt == "":
		// OCI manifests may omit mediaType (image-spec manifest.md says SHOULD).
		mt = types.OCIManifestSchema1
	}
	if err := checkHash(m.Config.Digest); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &storeImage{s: s, raw: raw, mt: mt, m: &m}, nil
}

func (i *storeImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *storeImage) MediaType() (types.MediaType, error) { return i.mt, nil }

func (i *storeImage) RawConfigFile() ([]byte, error) {
	i.configMu.Lock()
	defer i.configMu.Unlock()
	if i.config == nil {
		b, err := i.s.ReadBlob(i.m.Config.Digest, maxSmallBlob)
		if err != nil {
			return nil, err
		}
		i.config = b
	}
	return i.config, nil
}

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &storeLayer{s: i.s, desc: i.m.Config}, nil
	}
	for _, l := range i.m.Layers {
		if l.Digest == h {
			return &storeLayer{s: i.s, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("layer %s: %w in manifest", short(h), ErrNotFound)
}

// storeLayer is one blob of a stored image.
type storeLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storeLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed reads the blob verified: a push sends what it reads under the blob's digest, and a
// registry that does not check would publish a blob damaged on disk as the image's.
func (l *storeLayer) Compressed() (io.ReadCloser, error) { return l.s.openVerified(l.desc) }

// MinIDPrefix is the fewest hex digits of an image ID that find the image, as docker's image
// commands take a short ID (its truncatedID: 4 to 64).
const MinIDPrefix = 4

// FindImage finds a named image the way docker's image commands accept one: by full ref, or
// by image ID (config digest) or manifest digest, with or without "sha256:", or by a unique
// prefix of either of at least MinIDPrefix digits ("3f1a"). A prefix matching two different images is ErrAmbiguous; no
// match is ErrNotFound. Parsing short names ("alpine") into full refs is registry's job: cmd
// should try the argument as given, then normalized.
func (s *Store) FindImage(q string) (Ref, error) {
	return s.FindImageWith(q, nil)
}

// FindImageWith is FindImage that also finds, by ID or digest or a prefix of either, the
// unnamed images roots name (the images containers were created from, as Unnamed takes
// them): docker finds a dangling image by its ID as any other. Such an image is found with
// Name "" and its manifest's (or index's) descriptor. A prefix is matched against named and
// unnamed images alike: one that matches two different images is ErrAmbiguous.
func (s *Store) FindImageWith(q string, roots []v1.Hash) (Ref, error) {
	refs, err := s.List()
	if err != nil {
		return Ref{}, err
	}
	for _, r := range refs {
		// A name the store refuses to write (another tool's) never finds an image: the
		// argument "sha256:<ID>" is an ID.
		if r.Name == q && !ambiguousName(q) {
			return r, nil
		}
	}
	prefix := strings.TrimPrefix(q, "sha256:")
	// As docker's: an ID prefix has at least MinIDPrefix hex digits. "rmi a" is a typo
	// more often than a wish to remove the one image whose ID begins with a.
	if len(prefix) < MinIDPrefix || !isHex(prefix) || len(prefix) > 64 {
		return Ref{}, fmt.Errorf("finding image %s: %w", q, ErrNotFound)
	}
	var found []Ref
	var first string // what found[0] is called in an error
	add := func(r Ref, label string) error {
		if len(found) == 0 {
			first = label
		}
		if len(found) == 0 || found[0].Descriptor.Digest == r.Descriptor.Digest {
			found = append(found, r)
			return nil
		}
		return fmt.Errorf("finding image %s: %w: matches %s and %s", q, ErrAmbiguous, first, label)
	}
	for _, r := range refs {
		match := strings.HasPrefix(r.Descriptor.Digest.Hex, prefix)
		if !match {
			img, err := s.image(r.Descriptor.Digest)
			if err != nil {
				// An image whose manifest is gone or broken cannot match by ID; skipping it
				// keeps one broken image from hiding all others.
				continue
			}
			match = strings.HasPrefix(img.m.Config.Digest.Hex, prefix)
		}
		if match {
			if err := add(r, r.Name); err != nil {
				return Ref{}, err
			}
		}
	}
	if len(roots) > 0 {
		unnamed, err := s.Unnamed(roots)
		if err != nil {
			return Ref{}, err
		}
		for _, u := range unnamed {
			if strings.HasPrefix(u.ID.Hex, prefix) || strings.HasPrefix(u.Manifest.Digest.Hex, prefix) {
				if err := add(Ref{Descriptor: u.Manifest}, short(u.ID)); err != nil {
					return Ref{}, err
				}
			}
		}
	}
	if len(found) == 0 {
		return Ref{}, fmt.Errorf("finding image %s: %w", q, ErrNotFound)
	}
	return found[0], nil
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ImageInfo describes a stored image for `strata images` and `strata image inspect`; cmd
// formats it.
//
// A ref that names an index (a multi-platform image, from `pull --all-platforms` or a load
// that kept the index) is described as docker's containerd image store describes it: ID and
// Manifest are the index's, Size counts every platform, and the rest (Created, platform,
// Layers, Config) is the platform image: the one the index lists for this host, or its first
// image when it has none for this host. Platforms lists them all.
type ImageInfo struct {
	// Ref is the full reference the image was found under.
	Ref string
	// ID is the image ID, the digest of the config blob (what docker shows as IMAGE ID); for
	// an index, the index's digest.
	ID v1.Hash
	// Manifest is the manifest (or index) descriptor from index.json.
	Manifest v1.Descriptor
	// Created is when the image was built, from its config; zero if the config has none.
	Created time.Time
	// HasCreated is whether the config names a created time at all: one that says
	// "0001-01-01T00:00:00Z" has a zero Created too, and docker prints that date where it
	// prints nothing for a config without one.
	HasCreated bool
	// HistoryHasCreated says, for each entry of Config.History, whether it names a created
	// time (see HasCreated).
	HistoryHasCreated []bool
	// Size is the bytes the image takes in the store: its config plus its compressed layers,
	// each distinct layer counted once; for an index, the configs and layers of every
	// platform it lists. Docker shows the unpacked size instead, which only the snapshotter
	// knows; cmd may add it.
	Size int64
	// OS, Architecture and Variant are the platform from the config.
	OS, Architecture, Variant string
	// Layers are the manifest's layer descriptors, base first.
	Layers []v1.Descriptor
	// Config is the parsed config: Entrypoint, Cmd, Env, WorkingDir, User, DiffIDs, history.
	Config v1.ConfigFile
	// HealthStartInterval is the config's Healthcheck.StartInterval (HEALTHCHECK
	// --start-interval), which Config's HealthConfig has no field for; 0 without one.
	HealthStartInterval time.Duration
	// Platforms lists the images of an index, in its order; nil for a single image.
	Platforms []PlatformImage
	// Blobs lists every blob the ref reaches, each once: layers, configs, manifests and
	// indexes, as Store.Blobs lists them. What removing the ref could free is among these.
	Blobs []v1.Descriptor
	// Damaged is why Infos could not read the image whole (a config or manifest missing, or
	// damaged on disk and removed when read), or nil. The other fields then hold what could
	// be read: ID from the manifest (the manifest's or index's own digest when even that is
	// gone), Size of the configs and layers still present, no Created or Config unless the
	// platform image's config was read; Blobs what the manifests read name.
	Damaged error
}

// PlatformImage is one image an index lists.
type PlatformImage struct {
	// Platform is what the index entry says; nil when it says nothing.
	Platform *v1.Platform
	// Manifest is the image manifest's descriptor.
	Manifest v1.Descriptor
	// ID is the digest of the image's config: what a container made from it records.
	ID v1.Hash
	// Size is its config plus its distinct layers, compressed.
	Size int64
}

// Info reads what `images` and `image inspect` show about ref's image.
func (s *Store) Info(ref Ref) (ImageInfo, error) {
	info, err := s.info(ref)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("inspecting %s: %w", ref.Name, err)
	}
	return info, nil
}

func (s *Store) info(ref Ref) (ImageInfo, error) {
	if ref.Descriptor.MediaType.IsIndex() {
		return s.indexInfo(ref)
	}
	img, err := s.image(ref.Descriptor.Digest)
	if err != nil {
		return ImageInfo{}, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return ImageInfo{}, err
	}
	var cfg v1.ConfigFile
	if err := parseBlob(raw, &cfg); err != nil {
		// The config verified against its digest but is no image config: an artifact's
		// (a registry's index or an archive may hold one). Its row shows no config; an
		// error here would fail `images` and `prune` for the whole store (Infos).
		cfg = v1.ConfigFile{}
	}
	size := int64(len(raw))
	seen := map[v1.Hash]bool{}
	for _, l := range img.m.Layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			size += l.Size
		}
	}
	blobs, err := s.blobs(ref.Descriptor)
	if err != nil {
		return ImageInfo{}, err
	}
	return ImageInfo{
		Blobs:             blobs,
		Ref:               ref.Name,
		ID:                img.m.Config.Digest,
		Manifest:          ref.Descriptor,
		Created:           cfg.Created.Time,
		HasCreated:        hasCreated(raw),
		HistoryHasCreated: historyHasCreated(raw),
		Size:              size,
		OS:                cfg.OS,
		Architecture:      cfg.Architecture,
		Variant:           cfg.Variant,
		Layers:            img.m.Layers,
		Config:            cfg,

		HealthStartInterval: healthStartInterval(raw, &cfg),
	}, nil
}

// healthStartInterval is the StartInterval of the Healthcheck of raw, the config cfg was
// parsed from; 0 when it has none or it does not parse.
func healthStartInterval(raw []byte, cfg *v1.ConfigFile) time.Duration {
	if cfg.Config.Healthcheck == nil {
		return 0
	}
	var c struct {
		Config struct {
			Healthcheck *struct{ StartInterval time.Duration }
		} `json:"config"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Config.Healthcheck == nil {
		return 0
	}
	return c.Config.Healthcheck.StartInterval
}

// Infos returns the ImageInfo of every named image, for `strata images`, `system df` and the
// collections. An image whose blobs cannot be read is listed with what could be read and
// Damaged saying why (see DescribeDamaged), rather than failing the whole listing (one image
// whose config was lost made images, df, prune and every rmi fail, the broken image itself
// impossible to remove) or vanishing from it. Only index.json unreadable is an error.
func (s *Store) Infos() ([]ImageInfo, error) {
	refs, err := s.List()
	if err != nil {
		return nil, err
	}
	infos := make([]ImageInfo, 0, len(refs))
	// Names of one image share its info, read once: a store of thousands of tags of a few
	// images read and hashed the same manifests and configs once per tag (seconds for
	// `images`, and for every rmi and prune). Only what differs per name is set anew.
	type content struct {
		digest    v1.Hash
		mediaType string
		size      int64
	}
	read := map[content]ImageInfo{}
	for _, r := range refs {
		key := content{r.Descriptor.Digest, string(r.Descriptor.MediaType), r.Descriptor.Size}
		if info, ok := read[key]; ok {
			info.Ref, info.Manifest = r.Name, r.Descriptor
			infos = append(infos, info)
			continue
		}
		info, ok, err := s.infoListed(r)
		if err != nil {
			info, ok = s.DescribeDamaged(r, err), true
		} else if ok && info.Manifest.Digest == r.Descriptor.Digest {
			read[key] = info
		}
		if ok {
			infos = append(infos, info)
		}
	}
	return infos, nil
}

// infoListed is Info for a ref List returned a moment ago. Another process may have untagged
// it and collected its blobs since (an rmi): a blob not found is then no damage, and the ref
// is skipped (ok false), or read again where it names another image now. Only a ref that
// still names the image whose blob is missing is an error.
func (s *Store) infoListed(r Ref) (info ImageInfo, ok bool, err error) {
	for try := 0; ; try++ {
		info, err = s.Info(r)
		if err == nil {
			return info, true, nil
		}
		if !errors.Is(err, ErrNotFound) || try == 3 {
			return info, false, err
		}
		now, rerr := s.Resolve(r.Name)
		if errors.Is(rerr, ErrNotFound) {
			return info, false, nil
		}
		if rerr != nil || now.Digest == r.Descriptor.Digest {
			return info, false, err
		}
		r.Descriptor = now
	}
}

// indexInfo describes a ref that names an index: its platform image (this host's, or the
// first), with the index's digest as ID and every platform's blobs in Size.
func (s *Store) indexInfo(ref Ref) (ImageInfo, error) {
	images, _, err := s.indexTree(ref.Descriptor)
	if err != nil {
		return ImageInfo{}, err
	}
	if len(images) == 0 {
		return ImageInfo{}, fmt.Errorf("index %s: %w: it lists no images", short(ref.Descriptor.Digest), ErrInvalidIndex)
	}
	pick, ok := matchEntry(images, hostPlatform())
	if !ok {
		pick = images[0]
		for _, e := range images {
			if !isAttestation(e.platform) {
				pick = e
				break
			}
		}
	}
	info, err := s.info(Ref{Name: ref.Name, Descriptor: pick.desc})
	if err != nil {
		return ImageInfo{}, err
	}
	info.ID = ref.Descriptor.Digest
	info.Manifest = ref.Descriptor
	if info.Blobs, err = s.blobs(ref.Descriptor); err != nil {
		return ImageInfo{}, err
	}
	info.Size = 0
	seen := map[v1.Hash]bool{}
	for _, e := range images {
		m, err := s.readManifest(e.desc.Digest)
		if err != nil {
			return ImageInfo{}, err
		}
		pi := PlatformImage{Platform: e.platform, Manifest: e.desc, ID: m.Config.Digest}
		own := map[v1.Hash]bool{}
		for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if !seen[b.Digest] {
				seen[b.Digest] = true
				info.Size += b.Size
			}
			if !own[b.Digest] {
				own[b.Digest] = true
				pi.Size += b.Size
			}
		}
		info.Platforms = append(info.Platforms, pi)
	}
	return info, nil
}

// createdFields are the fields of an image config that say when it and its steps were made,
// kept raw to tell a zero time given from none.
type createdFields struct {
	Created json.RawMessage `json:"created"`
	History []struct {
		Created json.RawMessage `json:"created"`
	} `json:"history"`
}

func given(v json.RawMessage) bool { return len(v) > 0 && string(v) != "null" }

// hasCreated reports whether the image config raw has a "created" other than null.
func hasCreated(raw []byte) bool {
	var c createdFields
	return json.Unmarshal(raw, &c) == nil && given(c.Created)
}

// historyHasCreated reports, for each history entry of the image config raw, whether it has a
// "created" other than null.
func historyHasCreated(raw []byte) []bool {
	var c createdFields
	if json.Unmarshal(raw, &c) != nil || len(c.History) == 0 {
		return nil
	}
	out := make([]bool, len(c.History))
	for i, h := range c.History {
		out[i] = given(h.Created)
	}
	return out
}
