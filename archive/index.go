package archive

import (
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// maxManifests bounds how many manifests one index tree of an archive may list in all, as
// the store bounds what a registry may.
const maxManifests = cache.MaxIndexManifests

// resolveTop plans one image index.json names. An index is kept whole, digests and all, when
// no platform was asked for and the archive (with the store) holds everything it lists;
// otherwise, and for a single manifest, resolve picks one image as pull does. It returns the
// descriptor to tag and the config its names are looked up by (the platform image's, for an
// index).
func (p *plan) resolveTop(d v1.Descriptor) (v1.Descriptor, v1.Hash, error) {
	if r, ok := p.tops[sizedOf(d)]; ok {
		return r.desc, r.config, nil
	}
	md, cfg, err := p.resolveTopOnce(d)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	p.tops[sizedOf(d)] = resolvedManifest{desc: md, config: cfg}
	return md, cfg, nil
}

// resolveTopOnce is resolveTop for a digest index.json has not listed before.
func (p *plan) resolveTopOnce(d v1.Descriptor) (v1.Descriptor, v1.Hash, error) {
	if !p.whole {
		return p.resolve(d, 0)
	}
	raw, err := p.readBlob(d)
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	mt := ownType(indexType(d, raw), raw)
	if !mt.IsIndex() {
		return p.resolve(d, 0)
	}
	mark := len(p.blobs)
	var count int
	cfg, err := p.planIndex(d, raw, 0, nil, &count)
	if errors.Is(err, errMissing) {
		// Part of the index only (a docker save of the platforms it had): forget what was
		// planned for it and load one platform.
		for _, b := range p.blobs[mark:] {
			delete(p.seen, b.desc.Digest)
			delete(p.planned, sizedOf(b.desc))
		}
		p.blobs = p.blobs[:mark]
		return p.resolve(d, 0)
	}
	if err != nil {
		return v1.Descriptor{}, v1.Hash{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d.Digest, Size: d.Size}, cfg, nil
}

// indexType returns d's media type when it is an index, reading raw when d has none.
func indexType(d v1.Descriptor, raw []byte) types.MediaType {
	if d.MediaType != "" {
		return d.MediaType
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return ""
	}
	if probe.MediaType != "" {
		return probe.MediaType
	}
	if probe.Manifests != nil {
		return types.OCIImageIndex
	}
	return ""
}

// planIndex plans the index d (its bytes raw, verified) and everything below it: every image
// manifest, config and layer, then the index itself. count adds up the manifests listed, and
// ancestors are the indexes above d, so a hostile archive can neither nest without end, nor
// list a million manifests, nor loop. It returns the config of the image for the wanted
// platform, or of the first image.
func (p *plan) planIndex(d v1.Descriptor, raw []byte, depth int, ancestors []v1.Hash, count *int) (v1.Hash, error) {
	if depth > maxDepth {
		return v1.Hash{}, fmt.Errorf("index %s: indexes nested more than %d deep", short(d.Digest), maxDepth)
	}
	if err := kindConflict(d, types.OCIImageIndex, raw); err != nil {
		return v1.Hash{}, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return v1.Hash{}, fmt.Errorf("parsing index %s: %w", short(d.Digest), parsing(err))
	}
	*count += len(idx.Manifests)
	if *count > maxManifests {
		return v1.Hash{}, fmt.Errorf("index %s lists more than %d manifests", short(d.Digest), maxManifests)
	}
	below := append(ancestors[:len(ancestors):len(ancestors)], d.Digest)
	var first, match v1.Hash
	for _, c := range idx.Manifests {
		for _, a := range below {
			if c.Digest == a {
				return v1.Hash{}, fmt.Errorf("index %s lists itself or an index above it (%s)", short(d.Digest), short(a))
			}
		}
		// The image that runs here, the first of the wanted platform, must be one strata
		// can run (checkConfig); the others may be artifacts with configs of any shape.
		wanted := match.Hex == "" && c.Platform != nil && matchPlatform(*c.Platform, p.want)
		cfg, err := p.planChild(d, c, depth, below, count, wanted)
		if err != nil {
			return v1.Hash{}, err
		}
		if first.Hex == "" {
			first = cfg
		}
		if match.Hex == "" && c.Platform != nil && matchPlatform(*c.Platform, p.want) {
			match = cfg
		}
	}
	if len(idx.Manifests) == 0 {
		return v1.Hash{}, fmt.Errorf("index %s lists no images", short(d.Digest))
	}
	mt := ownType(indexType(d, raw), raw)
	if err := p.addBlob(v1.Descriptor{MediaType: mt, Digest: d.Digest, Size: d.Size}); err != nil {
		return v1.Hash{}, err
	}
	if match.Hex != "" {
		p.planned[sizedOf(d)] = match
		return match, nil
	}
	p.planned[sizedOf(d)] = first
	return first, nil
}

// planChild plans c, an entry of the index d below ancestors, unless it was planned before:
// then its config is all there is to know.
func (p *plan) planChild(d, c v1.Descriptor, depth int, ancestors []v1.Hash, count *int, wanted bool) (v1.Hash, error) {
	if cfg, ok := p.planned[sizedOf(c)]; ok {
		return cfg, nil
	}
	craw, err := p.readBlob(c)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("index %s: %w", short(d.Digest), err)
	}
	if mt := indexType(c, craw); mt.IsIndex() {
		if c.MediaType == "" {
			// The store tells an index entry by its media type alone, and would read this
			// one back as an image: it could not list the store's images.
			return v1.Hash{}, fmt.Errorf("index %s lists index %s without its media type", short(d.Digest), short(c.Digest))
		}
		return p.planIndex(c, craw, depth+1, ancestors, count)
	}
	return p.planImage(c, craw, wanted)
}

// planImage plans one image manifest of a kept index: its layers, config and itself.
func (p *plan) planImage(d v1.Descriptor, raw []byte, wanted bool) (v1.Hash, error) {
	var m struct {
		v1.Manifest
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return v1.Hash{}, fmt.Errorf("parsing manifest %s: %w", short(d.Digest), parsing(err))
	}
	if err := storable(d, m.Manifest, m.Manifests != nil); err != nil {
		return v1.Hash{}, err
	}
	if wanted {
		if err := p.checkConfig(d, m.Manifest); err != nil {
			return v1.Hash{}, err
		}
	}
	for _, l := range m.Layers {
		if err := p.addBlob(l); err != nil {
			return v1.Hash{}, fmt.Errorf("manifest %s: layer: %w", short(d.Digest), err)
		}
	}
	if err := p.addBlob(m.Config); err != nil {
		return v1.Hash{}, fmt.Errorf("manifest %s: config: %w", short(d.Digest), err)
	}
	mt := d.MediaType
	if mt == "" {
		mt = m.MediaType
	}
	if err := p.addManifest(v1.Descriptor{MediaType: mt, Digest: d.Digest, Size: d.Size}); err != nil {
		return v1.Hash{}, err
	}
	p.planned[sizedOf(d)] = m.Config.Digest
	return m.Config.Digest, nil
}
