package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/imageconfig"
	"github.com/strata-run/strata/internal/jsonvalues"
	"github.com/strata-run/strata/internal/manifestkeys"
	"github.com/strata-run/strata/internal/platforms"
	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/registry"
)

// Annotations other tools name images by in index.json. containerd (and Docker 25, which
// writes archives through it) keeps the full name in its own key and only the tag in the
// spec's; skopeo and podman put the whole name in the spec's.
const (
	containerdNameAnnotation = "io.containerd.image.name"
	refNameAnnotation        = cache.RefNameAnnotation
)

// maxJSON bounds every JSON file Load parses but configs: index.json, manifest.json,
// manifests.
const maxJSON = registry.MaxManifestSize

// maxConfigJSON bounds a config a docker archive names, as a pull bounds one: a config may be
// larger than a manifest (labels, history), and the store takes what a pull or commit made.
const maxConfigJSON = registry.MaxConfigSize

// maxDepth bounds indexes within indexes; real images nest one level.
const maxDepth = 4

// maxRefs bounds the refs one archive tags, as many as the images it may hold.
const maxRefs = maxManifests

// blob is one blob to store: from an entry, or bytes strata made (the manifest of an old
// docker archive image). An entry of nil with no data means the store already has it.
type blob struct {
	desc  v1.Descriptor
	entry *entry
	data  []byte
}

// image is one image to tag.
type image struct {
	names []string // as the archive names it
	// repoTags says names are manifest.json's RepoTags, where a name is a tag: a name by
	// digest there is refused, as docker refuses it ("invalid tag"), unless it pins the
	// digest the image is listed by (strata save writes such a pin, a load keeps it).
	repoTags bool
	refs     []string // normalized
	ignored  []Ignored
	manifest v1.Descriptor
	config   v1.Hash
	// listed is the digest the archive lists the image by (index.json's, or the manifest
	// strata wrote for an old docker image): the one digest a name may pin.
	listed v1.Hash
}

// plan is what Load will store, worked out before anything is stored.
type plan struct {
	store *cache.Store
	src   source
	want  v1.Platform
	// whole keeps an index whole when the archive (with the store) holds all it lists.
	whole bool
	blobs []blob
	// seen holds the size of each blob planned, by digest: a blob listed again with
	// another size is refused (seenAs).
	seen map[v1.Hash]int64
	// manifests are the image manifests planned, by digest, whatever kind a descriptor
	// lists them as: the check of the layers unpacked here reads them (checkUnpacked).
	manifests map[v1.Hash]bool
	images    []image
	// tops, resolved and planned remember what resolveTop, resolve and planIndex/planImage
	// made of a digest: an archive may list one manifest thousands of times, and each
	// distinct manifest is then read, hashed and parsed once, not once per listing.
	// Keyed by size too, so a listing that lies about the size is still read and refused.
	tops, resolved map[sized]resolvedManifest
	planned        map[sized]v1.Hash
	// diffIDs are the DiffIDs of the compressed layers of a docker archive, by digest
	// (uncompressedDigest).
	diffIDs map[v1.Hash]v1.Hash
}

// sized is a descriptor's digest and size, which say what its bytes are.
type sized struct {
	digest v1.Hash
	size   int64
}

func sizedOf(d v1.Descriptor) sized { return sized{d.Digest, d.Size} }

// resolvedManifest is what resolve or resolveTop returned for a digest.
type resolvedManifest struct {
	desc   v1.Descriptor
	config v1.Hash
}

// dockerManifest is one item of a docker archive's manifest.json (moby image/tarexport).
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// read finds the images of the archive: through index.json when there is one (OCI archives,
// and Docker 25 archives, whose manifests then keep their digests), else through manifest.json.
func (p *plan) read(ctx context.Context) error {
	idx, err := p.src.lookup("index.json")
	switch {
	case err == nil:
		return p.readOCI(idx)
	case !errors.Is(err, errMissing):
		return err
	}
	mj, err := p.src.lookup("manifest.json")
	if errors.Is(err, errMissing) {
		return errors.New("neither index.json nor manifest.json found: not an image archive")
	}
	if err != nil {
		return err
	}
	return p.readDocker(ctx, mj)
}

func (p *plan) readOCI(e *entry) error {
	raw, err := e.readSmall(maxJSON)
	if err != nil {
		return err
	}
	if err := checkJSON(raw, true); err != nil {
		return fmt.Errorf("index.json %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("parsing index.json: %w", parsing(err))
	}
	if len(idx.Manifests) == 0 {
		return errors.New("index.json lists no images")
	}
	// Each entry is read and parsed on its own: a few MB of index.json naming one big
	// manifest a hundred thousand times would cost minutes of parsing without this bound.
	if len(idx.Manifests) > maxManifests {
		return fmt.Errorf("index.json lists %d images, more than the %d allowed", len(idx.Manifests), maxManifests)
	}
	var tags map[v1.Hash][]string
	for _, d := range idx.Manifests {
		m, cfg, err := p.resolveTop(d)
		if err != nil {
			return err
		}
		names := annotatedNames(d.Annotations)
		repoTags := false
		if len(names) == 0 {
			if tags == nil {
				if tags, err = p.dockerTags(); err != nil {
					return err
				}
			}
			names, repoTags = tags[cfg], true
		}
		p.images = append(p.images, image{names: names, repoTags: repoTags, manifest: m, config: cfg, listed: d.Digest})
	}
	return nil
}

// annotatedNames returns the name an index.json descriptor gives its image. A spec ref name
// without a slash or colon is a bare tag ("latest", as Docker 25 writes it next to the
// containerd name): it names no repository, so it names nothing here.
func annotatedNames(a map[string]string) []string {
	if n := a[containerdNameAnnotation]; n != "" {
		return []string{n}
	}
	if n := a[refNameAnnotation]; strings.ContainsAny(n, ":/") {
		return []string{n}
	}
	return nil
}

// dockerTags maps config digests to the RepoTags of manifest.json, when the archive has one.
func (p *plan) dockerTags() (map[v1.Hash][]string, error) {
	tags := map[v1.Hash][]string{}
	e, err := p.src.lookup("manifest.json")
	if errors.Is(err, errMissing) {
		return tags, nil
	}
	if err != nil {
		return nil, err
	}
	ms, err := parseDockerManifest(e)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		ce, err := p.src.lookup(m.Config)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: config: %w", err)
		}
		_, h, err := ce.readJSON(maxConfigJSON)
		if err != nil {
			return nil, err
		}
		tags[h] = append(tags[h], m.RepoTags...)
	}
	return tags, nil
}

func parseDockerManifest(e *entry) ([]dockerManifest, error) {
	raw, err := e.readSmall(maxJSON)
	if err != nil {
		return nil, err
	}
	if err := checkJSON(raw, false); err != nil {
		return nil, fmt.Errorf("manifest.json %w", err)
	}
	var ms []dockerManifest
	if err := json.Unmarshal(raw, &ms); err != nil {
		return nil, fmt.Errorf("parsing manifest.json: %w", parsing(err))
	}
	if len(ms) == 0 {
		return nil, errors.New("manifest.json lists no images")
	}
	if len(ms) > maxManifests {
		return nil, fmt.Errorf("manifest.json lists %d images, more than the %d allowed", len(ms), maxManifests)
	}
	return ms, nil
}

// resolve walks d down to one image manifest (choosing the platform from an index), plans its
// blobs, and returns its descriptor and config digest.
func (p *plan) resolve(d v1.Descriptor, depth int) (v1.Descriptor, v1.Hash, error) {
	if depth > maxDepth {
		return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("manifest %s: indexes nested too deep", short(d.Digest))
	}
	if r, ok := p.resolved[sizedOf(d)]; ok {
		return r.desc, r.config, nil
	}
	md, cfg, err := p.resolveOnce(d, depth)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	p.resolved[sizedOf(d)] = resolvedManifest{desc: md, config: cfg}
	return md, cfg, nil
}

// resolveOnce is resolve for a digest not resolved before.
func (p *plan) resolveOnce(d v1.Descriptor, depth int) (v1.Descriptor, v1.Hash, error) {
	raw, err := p.readBlob(d)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("parsing manifest %s: %w", short(d.Digest), parsing(err))
	}
	mt := d.MediaType
	if mt == "" {
		mt = probe.MediaType
	}
	// The body's own type, of the descriptor's kind, is the one recorded (kind.go); an
	// image body listed as an index is refused here, an index body listed as an image by
	// storable.
	mt = ownType(mt, raw)
	switch {
	case mt.IsIndex() || (mt == "" && probe.Manifests != nil):
		if err := kindConflict(d, types.OCIImageIndex, raw); err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		child, err := p.pick(d, raw)
		if err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		return p.resolve(child, depth+1)
	case mt.IsImage() || mt == "":
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("parsing manifest %s: %w", short(d.Digest), parsing(err))
		}
		if err := storable(d, m, probe.Manifests != nil); err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		if err := p.checkConfig(d, m); err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		if mt == "" {
			mt = types.OCIManifestSchema1
			if m.Config.MediaType == types.DockerConfigJSON {
				mt = types.DockerManifestSchema2
			}
		}
		for _, l := range m.Layers {
			if err := p.addBlob(l); err != nil {
				return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("manifest %s: layer: %w", short(d.Digest), err)
			}
		}
		if err := p.addBlob(m.Config); err != nil {
			return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("manifest %s: config: %w", short(d.Digest), err)
		}
		md := v1.Descriptor{MediaType: mt, Digest: d.Digest, Size: d.Size}
		if err := p.addManifest(md); err != nil {
			return v1.Descriptor{}, v1.Hash{}, err
		}
		return md, m.Config.Digest, nil
	}
	return v1.Descriptor{}, v1.Hash{}, fmt.Errorf("manifest %s: %w %s", short(d.Digest), registry.ErrUnsupportedMediaType, quoted(string(mt)))
}

// storable refuses an image manifest the store would store but not read back, which would
// then fail the listing of all its images (cache.Store.Infos): one whose own media type, or
// a manifests list, says index, or whose config is larger than the store reads.
func storable(d v1.Descriptor, m v1.Manifest, listsManifests bool) error {
	switch {
	case listsManifests:
		return fmt.Errorf("manifest %s lists manifests: an index, listed as an image", short(d.Digest))
	case m.MediaType.IsIndex():
		return fmt.Errorf("manifest %s has the media type of an index, %s, listed as an image", short(d.Digest), m.MediaType)
	case m.Config.Size > registry.MaxConfigSize:
		return fmt.Errorf("manifest %s: config %s is %d bytes, more than the %d MiB allowed", short(d.Digest), short(m.Config.Digest), m.Config.Size, registry.MaxConfigSize>>20)
	}
	return nil
}

// pick chooses the manifest of an index for the wanted platform, as pull does.
func (p *plan) pick(d v1.Descriptor, raw []byte) (v1.Descriptor, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", short(d.Digest), parsing(err))
	}
	var have []string
	for _, c := range idx.Manifests {
		if c.Platform == nil {
			continue
		}
		if matchPlatform(*c.Platform, p.want) {
			return c, nil
		}
		have = append(have, c.Platform.String())
	}
	return v1.Descriptor{}, fmt.Errorf("index %s: %w %s (it has %s)", short(d.Digest), registry.ErrNoMatchingPlatform, p.want.String(), listed(have))
}

// matchPlatform reports whether have satisfies want, both normalized as containerd does
// (platforms.Normalize: arm64's "" and "v8" are the same, x86_64 is amd64). An empty wanted
// variant matches any.
func matchPlatform(have, want v1.Platform) bool {
	// Both spelled as pull and run spell them (x86_64 is amd64, arm64's v8 is no variant):
	// an index pulled and run under linux/amd64 must save and load under it too.
	h, w := platforms.Normalize(have), platforms.Normalize(want)
	if h.OS != w.OS || h.Architecture != w.Architecture {
		return false
	}
	return want.Variant == "" || h.Variant == w.Variant
}

// readBlob reads a manifest or index the plan needs to parse, from the store if it is there,
// else from the archive, checking its size and digest: it is parsed and trusted.
func (p *plan) readBlob(d v1.Descriptor) ([]byte, error) {
	return p.readJSONBlob(d, "manifest", maxJSON)
}

// readJSONBlob is readBlob of what (a manifest, a config) of at most max bytes, refused
// when it holds more JSON values than strata parses, or, a manifest or index, when Go would
// read it other than as written (checkJSON).
func (p *plan) readJSONBlob(d v1.Descriptor, what string, max int64) ([]byte, error) {
	raw, err := p.readJSONBlobUnchecked(d, what, max)
	if err != nil {
		return nil, err
	}
	if err := checkJSON(raw, what == "manifest"); err != nil {
		return nil, fmt.Errorf("%s %s %w", what, short(d.Digest), err)
	}
	return raw, nil
}

// checkJSON refuses what is parsed next: JSON of more values than jsonvalues.Max (each costs
// a hundred bytes and more once parsed: 4 MiB of empty layers took a GB), and with keys, a
// manifest or index Go would read other than as written (manifestkeys), as pull refuses
// them from a registry. The error continues a sentence naming what was read.
func checkJSON(raw []byte, keys bool) error {
	if n := jsonvalues.Count(raw); n > jsonvalues.Max {
		return fmt.Errorf("has more than the %d JSON values allowed", jsonvalues.Max)
	}
	if keys {
		if err := manifestkeys.Check(raw); err != nil {
			return fmt.Errorf("is ambiguous: %w", err)
		}
	}
	return nil
}

func (p *plan) readJSONBlobUnchecked(d v1.Descriptor, what string, max int64) ([]byte, error) {
	if err := checkDigest(d.Digest); err != nil {
		return nil, err
	}
	if d.Size < 0 || d.Size > max {
		return nil, fmt.Errorf("%s %s: size %d is out of bounds", what, short(d.Digest), d.Size)
	}
	if p.store.Has(d) {
		raw, err := p.store.ReadBlob(d.Digest, max)
		// A stored copy damaged on disk was removed by ReadBlob: the archive's replaces it.
		if !errors.Is(err, cache.ErrDigestMismatch) {
			return raw, err
		}
	}
	e, err := p.src.lookup(blobName(d.Digest))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, short(d.Digest), err)
	}
	if e.size != d.Size {
		// Said before reading: a file of gigabytes under a descriptor of a few hundred bytes
		// is not read at all.
		return nil, fmt.Errorf("%s %s: %w: %d bytes, descriptor says %d", what, short(d.Digest), cache.ErrSizeMismatch, e.size, d.Size)
	}
	raw, err := e.readSmall(max)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != d.Size {
		return nil, fmt.Errorf("%s %s: %w: %d bytes, descriptor says %d", what, short(d.Digest), cache.ErrSizeMismatch, len(raw), d.Size)
	}
	if got := sha256Hash(raw); got != d.Digest {
		return nil, fmt.Errorf("%s %s: %w: content hashes to %s", what, short(d.Digest), cache.ErrDigestMismatch, short(got))
	}
	return raw, nil
}

// checkConfig refuses the image manifest d, parsed as m, that strata would load to run when
// its config does not parse as an image config or pairs its layers with another number of
// DiffIDs: pull refuses such an image (cache.WriteImage), and load stored it, for run to
// fail later ("image has 1 layers but its config 0 diff ids", "reading the config of …:
// invalid character"). It is called before the config is planned: a stored copy found
// damaged is removed, and the archive's planned instead.
func (p *plan) checkConfig(d v1.Descriptor, m v1.Manifest) error {
	raw, err := p.readJSONBlob(m.Config, "config", registry.MaxConfigSize)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", short(d.Digest), err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("manifest %s: parsing config %s: %w", short(d.Digest), short(m.Config.Digest), parsing(err))
	}
	if err := imageconfig.CheckRootFS(raw); err != nil {
		return fmt.Errorf("manifest %s: config %s: %w", short(d.Digest), short(m.Config.Digest), err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("manifest %s has %d layers but its config %s %d DiffIDs", short(d.Digest), len(m.Layers), short(m.Config.Digest), len(cfg.RootFS.DiffIDs))
	}
	return nil
}

// addBlob plans to store blob d, checking it is in the store or the archive with its size.
func (p *plan) addBlob(d v1.Descriptor) error {
	if err := checkDigest(d.Digest); err != nil {
		return err
	}
	if seen, err := p.seenAs(d); seen || err != nil {
		return err
	}
	// A stored copy of another size is damaged (or d lies, which WriteBlob tells): the
	// archive's copy is planned instead.
	if p.store.Has(d) {
		p.seen[d.Digest] = d.Size
		p.blobs = append(p.blobs, blob{desc: d})
		return nil
	}
	e, err := p.src.lookup(blobName(d.Digest))
	if err != nil {
		return fmt.Errorf("blob %s: %w", short(d.Digest), err)
	}
	return p.addEntry(d, e)
}

// addManifest is addBlob of an image manifest.
func (p *plan) addManifest(d v1.Descriptor) error {
	if err := p.addBlob(d); err != nil {
		return err
	}
	p.manifests[d.Digest] = true
	return nil
}

// seenAs reports whether blob d is planned already, failing when it was planned with another
// size: one of the listings lies, and the blob stored as the first says would leave the other
// naming a size no reader finds (pull refuses a blob listed with two sizes too).
func (p *plan) seenAs(d v1.Descriptor) (bool, error) {
	size, ok := p.seen[d.Digest]
	if ok && size != d.Size {
		return true, fmt.Errorf("blob %s: %w: listed with %d bytes and with %d", short(d.Digest), cache.ErrSizeMismatch, size, d.Size)
	}
	return ok, nil
}

func (p *plan) addEntry(d v1.Descriptor, e *entry) error {
	if seen, err := p.seenAs(d); seen || err != nil {
		return err
	}
	if e.size != d.Size {
		return fmt.Errorf("blob %s: %w: %d bytes in the archive, descriptor says %d", short(d.Digest), cache.ErrSizeMismatch, e.size, d.Size)
	}
	if e.inStore && !p.store.HasBlob(d.Digest) {
		return fmt.Errorf("blob %s: %w: it left the store while loading", short(d.Digest), cache.ErrNotFound)
	}
	p.seen[d.Digest] = d.Size
	p.blobs = append(p.blobs, blob{desc: d, entry: e})
	return nil
}

// checkDigest refuses what the store cannot keep before it names a path.
func checkDigest(h v1.Hash) error {
	if _, ok := blobDigest("blobs/sha256/" + h.Hex); !ok || h.Algorithm != "sha256" {
		return fmt.Errorf("%w %q", cache.ErrInvalidDigest, h.String())
	}
	return nil
}

func sha256Hash(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// name turns the names the archive gives into refs; unnamed gives the one unnamed image a name.
func (p *plan) name(unnamed string) error {
	used := false
	// Each ref is a rewrite of the store's index.json: a manifest.json of a few MB can give
	// hundreds of thousands of RepoTags, hours of tagging and an index.json the store then
	// refuses to read. Repeats are tagged once; more than maxRefs distinct refs is refused.
	total := 0
	for i := range p.images {
		img := &p.images[i]
		var refs []string
		for _, n := range img.names {
			ref, err := registry.ParseReference(n)
			if err == nil {
				err = cache.CheckRef(ref.String())
				if errors.Is(err, cache.ErrAmbiguousName) && !img.repoTags {
					// "sha256:<hex>" as an annotation (another tool's index.json): docker's
					// containerd store loads the image all the same; the store cannot name
					// it so (it would read as an image ID), so it is loaded without it.
					img.ignored = append(img.ignored, Ignored{Name: n, Reason: err})
					continue
				}
				// Refused before any blob is stored, so the load is refused whole.
				if err != nil {
					err = fmt.Errorf("name %s: %w", quote.Cut(n, 300), err)
				}
			}
			if err != nil {
				return fmt.Errorf("image %s: %w", short(img.manifest.Digest), err)
			}
			// A name by digest promises content that hashes to it, and the store hands it
			// out unchecked (run, pull --offline). The archive backs only the digest
			// index.json lists the image by: another pin (a manifest under the digest of an
			// index the archive lacks, or of anything else) is dropped from an annotation,
			// and refused in RepoTags, where docker refuses any: a tag the archive gives,
			// dropped without a word, left a load that said it loaded the image by name.
			if d := ref.Digest(); d != "" && d != img.listed.String() {
				if img.repoTags {
					return fmt.Errorf("image %s: invalid tag %s: it pins a digest the archive does not list the image by", short(img.manifest.Digest), quote.Cut(n, 300))
				}
				img.ignored = append(img.ignored, Ignored{Name: n, Reason: errForeignPin})
				continue
			}
			refs = append(refs, ref.String())
		}
		if len(refs) == 0 {
			if unnamed == "" {
				// Stored without a name, as docker load stores one: a dangling image,
				// listed as <none> until it is tagged, or a prune removes it.
				continue
			}
			if used {
				return fmt.Errorf("image %s: %w in the archive, and the name %s is taken by another", short(img.manifest.Digest), ErrNoName, unnamed)
			}
			used = true
			ref, err := registry.ParseReference(unnamed)
			if err == nil {
				if err = cache.CheckRef(ref.String()); err != nil {
					err = fmt.Errorf("name %s: %w", quote.Cut(unnamed, 300), err)
				}
			}
			if err != nil {
				return fmt.Errorf("image %s: %w", short(img.manifest.Digest), err)
			}
			if d := ref.Digest(); d != "" && d != img.listed.String() {
				return fmt.Errorf("image %s: the name %s pins another digest", short(img.manifest.Digest), unnamed)
			}
			refs = []string{ref.String()}
		}
		for _, r := range refs {
			if slices.Contains(img.refs, r) {
				continue
			}
			if total++; total > maxRefs {
				return fmt.Errorf("the archive names more than %d images", maxRefs)
			}
			img.refs = append(img.refs, r)
		}
	}
	return nil
}
