package cache

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DescribeDamaged is Info for an image Info failed on (cause): what can be read of it
// without the blobs that are missing or damaged, with Damaged set to cause. It reads what
// Info reads, skipping what fails: the index tree, each platform's manifest, the platform
// image's config. The ID is what Info would give when the manifests are read (the index's
// digest, or the manifest's config digest), so a container made from the image is still
// found by it; Size counts the configs and layers still in the store.
func (s *Store) DescribeDamaged(ref Ref, cause error) ImageInfo {
	info := ImageInfo{Ref: ref.Name, ID: ref.Descriptor.Digest, Manifest: ref.Descriptor, Damaged: cause}
	isIndex := ref.Descriptor.MediaType.IsIndex()
	images := []indexEntry{{desc: ref.Descriptor}}
	var indexes []v1.Descriptor
	if isIndex {
		var err error
		if images, indexes, err = s.indexTree(ref.Descriptor); err != nil {
			images, indexes = nil, nil
		}
	}
	pick, ok := matchEntry(images, hostPlatform())
	if !ok && len(images) > 0 {
		pick = images[0]
		for _, e := range images {
			if !isAttestation(e.platform) {
				pick = e
				break
			}
		}
	}
	var blobs, manifests []v1.Descriptor
	listed := map[v1.Hash]bool{}
	add := func(b v1.Descriptor) {
		if !listed[b.Digest] {
			listed[b.Digest] = true
			blobs = append(blobs, v1.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
		}
	}
	counted := map[v1.Hash]bool{}
	for _, e := range images {
		pi := PlatformImage{Platform: e.platform, Manifest: e.desc}
		manifests = append(manifests, e.desc)
		m, err := s.readManifest(e.desc.Digest)
		if err == nil {
			pi.ID = m.Config.Digest
			own := map[v1.Hash]bool{}
			for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
				add(b)
				if own[b.Digest] || !s.HasBlob(b.Digest) {
					continue
				}
				own[b.Digest] = true
				pi.Size += b.Size
				if !counted[b.Digest] {
					counted[b.Digest] = true
					info.Size += b.Size
				}
			}
		}
		if isIndex {
			info.Platforms = append(info.Platforms, pi)
		}
		if e.desc.Digest != pick.desc.Digest || err != nil {
			continue
		}
		info.Layers = m.Layers
		if !isIndex {
			info.ID = m.Config.Digest
		}
		if p := e.platform; p != nil {
			info.OS, info.Architecture, info.Variant = p.OS, p.Architecture, p.Variant
		}
		raw, err := s.ReadBlob(m.Config.Digest, maxSmallBlob)
		var cfg v1.ConfigFile
		if err != nil || parseBlob(raw, &cfg) != nil {
			continue
		}
		info.Config, info.Created, info.HasCreated = cfg, cfg.Created.Time, hasCreated(raw)
		info.HistoryHasCreated = historyHasCreated(raw)
		if cfg.OS != "" {
			info.OS, info.Architecture, info.Variant = cfg.OS, cfg.Architecture, cfg.Variant
		}
	}
	for _, m := range manifests {
		add(m)
	}
	for _, x := range indexes {
		add(x)
	}
	add(ref.Descriptor)
	info.Blobs = blobs
	return info
}
