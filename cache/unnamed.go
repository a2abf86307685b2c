package cache

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An image a container was created from outlives its names: a tag moved to another image
// (tag, pull, load) or rmi -f of its last name leaves it unnamed, and docker keeps it, as a
// dangling <none>:<none> image, while any container uses it. strata's containers record the
// image's ID (its config digest, or an index's digest); cmd hands those IDs to PruneKeeping,
// which keeps what they reach, and to Unnamed, which describes the images no ref names. No
// record is kept of an image's old names: what is kept is derived from the containers each
// time, as the rest of the collection is.

// Unnamed describes the stored images that ids name (image IDs, as containers record them:
// a config digest, or the digest of an index or a manifest) and that no ref in index.json
// reaches: the images that `images` lists as <none>:<none>. Each image is described once,
// with Ref "", in the order of ids; an ID of nothing stored, or of an image a ref reaches, is
// skipped. One whose config or layers cannot be read is described with what could be, as
// Infos describes a damaged image. Only index.json unreadable is an error.
func (s *Store) Unnamed(ids []v1.Hash) ([]ImageInfo, error) {
	named, err := s.reachableFromIndex(false, nil)
	if err != nil {
		return nil, err
	}
	var want []v1.Hash
	for _, id := range ids {
		if checkHash(id) == nil && !named[id] && !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	found, err := s.manifestsFor(want)
	if err != nil {
		return nil, err
	}
	var infos []ImageInfo
	seen := map[v1.Hash]bool{}
	for _, id := range want {
		ds := found[id]
		if len(ds) == 0 {
			continue
		}
		d := ds[0]
		for _, c := range ds {
			// Of two manifests of one config (the same image compressed twice), the one
			// whose blobs are all there.
			if s.Complete(c) {
				d = c
				break
			}
		}
		if seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		ref := Ref{Descriptor: d}
		info, err := s.info(ref)
		if err != nil && errors.Is(err, ErrNotFound) && !s.HasBlob(d.Digest) {
			// Collected since it was found: its container was removed, and a prune ran.
			continue
		}
		if err != nil {
			info = s.DescribeDamaged(ref, err)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// manifestsFor finds, for each of ids, the stored manifests it names: the blob id itself
// when it is an image manifest or an index, else every stored image manifest whose config is
// id. Blobs that are no manifest (layers, configs, anything not JSON) are passed over, as are
// manifests that cannot be read; the store's blobs are read only when an id is no manifest.
func (s *Store) manifestsFor(ids []v1.Hash) (map[v1.Hash][]v1.Descriptor, error) {
	out := map[v1.Hash][]v1.Descriptor{}
	configs := map[v1.Hash]bool{}
	for _, id := range ids {
		if d, m, ok := s.probeManifest(id); ok && (m.isIndex() || m.Config != nil) {
			out[id] = append(out[id], d)
			continue
		}
		configs[id] = true
	}
	if len(configs) == 0 {
		return out, nil
	}
	dir := filepath.Join(s.dir, blobsDir, "sha256")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || len(e.Name()) != 64 || !isHex(e.Name()) || configs[v1.Hash{Algorithm: "sha256", Hex: e.Name()}] {
			continue
		}
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if !looksLikeJSON(filepath.Join(dir, e.Name())) {
			continue
		}
		d, m, ok := s.probeManifest(h)
		if !ok || m.isIndex() || m.Config == nil || !configs[m.Config.Digest] {
			continue
		}
		out[m.Config.Digest] = append(out[m.Config.Digest], d)
	}
	return out, nil
}

// probeManifest reads the small blob h as a manifest or an index and returns its descriptor;
// ok is false when it is missing, too large, damaged, or no JSON object.
func (s *Store) probeManifest(h v1.Hash) (v1.Descriptor, manifestProbe, bool) {
	var m manifestProbe
	raw, err := s.ReadBlob(h, maxSmallBlob)
	if err != nil || parseBlob(raw, &m) != nil {
		return v1.Descriptor{}, m, false
	}
	if m.Config != nil && checkHash(m.Config.Digest) != nil {
		// An image config has a "config" object too; it names no blob.
		m.Config = nil
	}
	d := v1.Descriptor{MediaType: m.MediaType, Digest: h, Size: int64(len(raw))}
	switch {
	case d.MediaType != "":
	case m.Manifests != nil:
		d.MediaType = types.OCIImageIndex
	case m.Config != nil && m.Config.MediaType == types.DockerConfigJSON:
		d.MediaType = types.DockerManifestSchema2
	case m.Config != nil:
		d.MediaType = types.OCIManifestSchema1
	}
	return d, m, true
}

func (m manifestProbe) isIndex() bool { return m.MediaType.IsIndex() || m.Manifests != nil }

// looksLikeJSON reports whether the file at p is small enough to be a manifest and starts,
// after white space, with '{': a layer is passed over without being read whole.
func looksLikeJSON(p string) bool {
	f, err := openRegular(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() > maxSmallBlob {
		return false
	}
	buf := make([]byte, 64)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	b := bytes.TrimLeft(buf[:n], " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// Unreached describes the stored image manifests and indexes that no ref in index.json
// reaches: the images a collection would remove, whatever named them once. A blob that is no
// manifest, or one that cannot be read, is passed over, and so is a manifest whose config
// cannot be read (nothing of it is whole to keep). Only index.json or the blob directory
// unreadable is an error.
func (s *Store) Unreached() ([]ImageInfo, error) {
	named, err := s.reachableFromIndex(false, nil)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, blobsDir, "sha256")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []ImageInfo
	for _, e := range entries {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if !e.Type().IsRegular() || len(e.Name()) != 64 || !isHex(e.Name()) || named[h] || !looksLikeJSON(filepath.Join(dir, e.Name())) {
			continue
		}
		d, m, ok := s.probeManifest(h)
		if !ok || (!m.isIndex() && m.Config == nil) {
			continue // a config, or other JSON
		}
		info, err := s.Info(Ref{Descriptor: d})
		if err != nil {
			continue
		}
		out = append(out, info)
	}
	return out, nil
}

// Dangling describes the images stored whole that no ref in index.json reaches: what docker
// lists as <none>:<none> until a prune removes them. A tag moved to another image (tag,
// pull, load) leaves one; so does rmi -f of a container's image. Each is described once: a
// manifest an unreached index lists is part of the index's image, not one of its own. One
// that is not whole (a pull under way, or one interrupted) is no image yet, and is left out.
func (s *Store) Dangling() ([]ImageInfo, error) {
	unreached, err := s.Unreached()
	if err != nil {
		return nil, err
	}
	inIndex := map[v1.Hash]bool{}
	for _, info := range unreached {
		if !info.Manifest.MediaType.IsIndex() {
			continue
		}
		blobs, err := s.blobs(info.Manifest)
		if err != nil {
			continue
		}
		for _, b := range blobs {
			if b.Digest != info.Manifest.Digest {
				inIndex[b.Digest] = true
			}
		}
	}
	var out []ImageInfo
	for _, info := range unreached {
		if !inIndex[info.Manifest.Digest] && s.Complete(info.Manifest) {
			out = append(out, info)
		}
	}
	return out, nil
}
