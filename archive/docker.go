package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/ctxio"
	"github.com/strata-run/strata/internal/imageconfig"
)

// readDocker plans the images of a docker archive without index.json: `docker save` before
// Docker 25, where each layer is an uncompressed <id>/layer.tar. Such an archive carries no
// registry manifest, so strata writes a Docker schema 2 manifest around the config and the
// layers as they are (uncompressed layers keep media type docker tar and their digest, which
// is their DiffID). The manifest digest then differs from the registry's, as it does for
// `docker load` itself; config and layer digests are preserved.
func (p *plan) readDocker(ctx context.Context, e *entry) error {
	ms, err := parseDockerManifest(e)
	if err != nil {
		return err
	}
	for i, m := range ms {
		img, err := p.dockerImage(ctx, m)
		if err != nil {
			return fmt.Errorf("manifest.json: image %d: %w", i, err)
		}
		p.images = append(p.images, img)
	}
	return nil
}

func (p *plan) dockerImage(ctx context.Context, m dockerManifest) (image, error) {
	ce, err := p.src.lookup(m.Config)
	if err != nil {
		return image{}, fmt.Errorf("config: %w", err)
	}
	raw, cfgDigest, err := ce.readJSON(maxConfigJSON)
	if err != nil {
		return image{}, err
	}
	if err := checkJSON(raw, false); err != nil {
		return image{}, fmt.Errorf("config %s %w", m.Config, err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return image{}, fmt.Errorf("parsing config %s: %w", m.Config, parsing(err))
	}
	if err := imageconfig.CheckRootFS(raw); err != nil {
		return image{}, fmt.Errorf("config %s: %w", short(cfgDigest), err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return image{}, fmt.Errorf("config %s lists %d layers, manifest.json %d", short(cfgDigest), len(cfg.RootFS.DiffIDs), len(m.Layers))
	}
	man := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Digest: cfgDigest, Size: ce.size},
	}
	for i, name := range m.Layers {
		l, err := p.dockerLayer(ctx, name, cfg.RootFS.DiffIDs[i])
		if err != nil {
			return image{}, err
		}
		man.Layers = append(man.Layers, l)
	}
	if err := p.addEntry(man.Config, ce); err != nil {
		return image{}, err
	}
	data, err := json.Marshal(man)
	if err != nil {
		return image{}, err
	}
	md := v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: sha256Hash(data), Size: int64(len(data))}
	if _, ok := p.seen[md.Digest]; !ok {
		p.seen[md.Digest] = md.Size
		p.manifests[md.Digest] = true
		p.blobs = append(p.blobs, blob{desc: md, data: data})
	}
	return image{names: m.RepoTags, repoTags: true, manifest: md, config: cfgDigest, listed: md.Digest}, nil
}

// dockerLayer plans one layer file, telling its media type from its first bytes: old docker
// writes plain tars, but an archive of compressed layers loads with docker too.
func (p *plan) dockerLayer(ctx context.Context, name string, diffID v1.Hash) (v1.Descriptor, error) {
	le, err := p.src.lookup(name)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("layer: %w", err)
	}
	// Hashed before anything checks its size: a layer that cannot fit is not read.
	if err := p.fits(le); err != nil {
		return v1.Descriptor{}, err
	}
	h, err := le.hash(ctx)
	if err != nil {
		return v1.Descriptor{}, err
	}
	head, err := le.head(4)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d := v1.Descriptor{MediaType: types.DockerUncompressedLayer, Digest: h, Size: le.size}
	switch {
	case isGzip(head):
		d.MediaType = types.DockerLayer
	case isZstd(head):
		d.MediaType = types.OCILayerZStd
	case h != diffID:
		return v1.Descriptor{}, fmt.Errorf("layer %s: %w: content hashes to %s, the config's DiffID is %s", name, errDiffID, short(h), short(diffID))
	}
	if d.MediaType != types.DockerUncompressedLayer {
		// A compressed layer is the layer its config names only once decompressed: unchecked,
		// one that is not (a damaged archive, or one built to lie) loaded as an image that
		// only failed when run, where docker load refuses it.
		u, err := p.uncompressedDigest(ctx, le, h)
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("layer %s: %w", name, err)
		}
		if u != diffID {
			return v1.Descriptor{}, fmt.Errorf("layer %s: %w: decompressed, it hashes to %s, the config's DiffID is %s", name, errDiffID, short(u), short(diffID))
		}
	}
	if err := p.addEntry(d, le); err != nil {
		return v1.Descriptor{}, err
	}
	return d, nil
}

// uncompressedDigest is the sha256 of the compressed layer e (whose digest is h) once
// decompressed, its DiffID. Each distinct layer is decompressed once, however many times
// manifest.json lists it or links lead to it.
func (p *plan) uncompressedDigest(ctx context.Context, e *entry, h v1.Hash) (v1.Hash, error) {
	if u, ok := p.diffIDs[h]; ok {
		return u, nil
	}
	f, err := e.open()
	if err != nil {
		return v1.Hash{}, err
	}
	defer f.Close()
	// The bytes decompressed are hashed too: the DiffID is of the blob h only if they are
	// it (a directory read in place may have changed since h was found).
	blob := sha256.New()
	r, done, err := decompress(io.TeeReader(f, blob))
	if err != nil {
		return v1.Hash{}, err
	}
	defer done()
	d := sha256.New()
	// Bounded as staging is: a zstd layer of a megabyte can expand to tens of gigabytes.
	n, err := io.CopyBuffer(d, io.LimitReader(ctxio.NewReader(ctx, r), DefaultMaxSize+1), make([]byte, copyBufSize))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("decompressing: %w", err)
	}
	if n > DefaultMaxSize {
		return v1.Hash{}, fmt.Errorf("%w: more than %d GiB once decompressed", ErrTooLarge, DefaultMaxSize>>30)
	}
	// What follows the compressed stream is part of the blob.
	if _, err := io.Copy(blob, ctxio.NewReader(ctx, f)); err != nil {
		return v1.Hash{}, fmt.Errorf("reading: %w", err)
	}
	if got := hex.EncodeToString(blob.Sum(nil)); got != h.Hex {
		return v1.Hash{}, fmt.Errorf("%w: content read hashes to sha256:%s, not %s; it changed while loading", cache.ErrDigestMismatch, got[:12], short(h))
	}
	u := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(d.Sum(nil))}
	if p.diffIDs == nil {
		p.diffIDs = map[v1.Hash]v1.Hash{}
	}
	p.diffIDs[h] = u
	return u, nil
}
