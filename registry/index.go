package registry

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrNotIndex is wrapped (beside ErrUnsupportedMediaType) when Puller.Index finds a single
// image manifest where it wanted an index: `pull --all-platforms` of a single-platform image
// then pulls that image as Image would.
var ErrNotIndex = errors.New("not an index")

// Index is a multi-platform image resolved whole, for `pull --all-platforms`: the index and,
// through it, every manifest it lists. Manifests and blobs are fetched lazily, through the
// Puller's authenticated transport, when a child is read or FetchBlob is called.
type Index struct {
	// Ref is the reference that was resolved.
	Ref Reference
	// Descriptor is the index's; its Digest is what `Digest:` prints.
	Descriptor v1.Descriptor
	// Source is the registry host the index came from: a mirror's or the reference's own.
	Source string

	idx   v1.ImageIndex
	sess  *session
	sizes *blobSizes
	// listed are the index's entries by digest, parsed once: go-containerregistry parses the
	// whole index again for each child read through it, and a 4 MiB index of a thousand
	// entries cost half a minute of CPU to pull whole.
	listed map[v1.Hash]v1.Descriptor
	// up are the endpoints asked for a blob the mirror that served the index lacks.
	up upstreams
	// ctx is the Index call's, for the children: v1.ImageIndex's Image and ImageIndex take
	// none (go-containerregistry's remote index keeps its own so).
	ctx context.Context
}

// newIndex wraps idx, the index whose bytes raw were checked with checkManifest.
func newIndex(ctx context.Context, idx v1.ImageIndex, raw []byte, ref Reference, d v1.Descriptor, host string, s *session, sizes *blobSizes) (*Index, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, unparsable(host, fmt.Sprintf("parsing index of %s from %s", ref, host), err)
	}
	listed := make(map[v1.Hash]v1.Descriptor, len(im.Manifests))
	for _, c := range im.Manifests {
		if _, ok := listed[c.Digest]; !ok {
			listed[c.Digest] = c
		}
	}
	return &Index{idx: idx, Ref: ref, Descriptor: d, Source: host, sess: s, sizes: sizes, listed: listed, ctx: ctx}, nil
}

var _ v1.ImageIndex = (*Index)(nil)

// MediaType, Digest, Size, IndexManifest and RawManifest are the index's own, as fetched.
func (i *Index) MediaType() (types.MediaType, error)       { return i.idx.MediaType() }
func (i *Index) Digest() (v1.Hash, error)                  { return i.idx.Digest() }
func (i *Index) Size() (int64, error)                      { return i.idx.Size() }
func (i *Index) IndexManifest() (*v1.IndexManifest, error) { return i.idx.IndexManifest() }
func (i *Index) RawManifest() ([]byte, error)              { return i.idx.RawManifest() }

// blobSizes remembers the size of every blob of the manifests read through an Index, so a
// resumed download asks for a closed Range, as Image.FetchBlob does.
type blobSizes struct {
	mu sync.Mutex
	m  map[v1.Hash]int64
}

func (b *blobSizes) add(ds ...v1.Descriptor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range ds {
		b.m[d.Digest] = d.Size
	}
}

func (b *blobSizes) get(h v1.Hash) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.m[h]
	return n, ok
}

// Index resolves ref to an index (OCI image index or Docker manifest list) for callers that
// want every platform, such as `pull --all-platforms`. Mirrors are tried as in Image. A
// reference to a single image manifest is an error of kind ErrUnsupportedMediaType that also
// matches ErrNotIndex.
func (p *Puller) Index(ctx context.Context, ref Reference) (*Index, error) {
	var err error
	for _, ep := range p.endpoints(ref.domain) {
		var idx *Index
		idx, err = p.indexFrom(ctx, ref, ep)
		if err == nil {
			return idx, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrNotIndex) {
			return nil, err
		}
	}
	return nil, err
}

func (p *Puller) indexFrom(ctx context.Context, ref Reference, ep endpoint) (*Index, error) {
	s, rref, err := p.open(ctx, ref, ep, transport.PullScope)
	if err != nil {
		return nil, err
	}
	desc, err := remoteGet(ctx, s, rref)
	if err != nil {
		return nil, classify(err, opPull, "manifest for "+ref.String(), ref.Name(), ep.host)
	}
	if err := checkManifest(desc.Manifest, "manifest for "+ref.String(), ep.host); err != nil {
		return nil, err
	}
	mt, err := manifestType(desc.MediaType, desc.Manifest)
	if err != nil {
		return nil, refused(err, ref, ep.host)
	}
	if !mt.IsIndex() {
		return nil, &Error{Kind: ErrUnsupportedMediaType, Registry: ep.host, Err: ErrNotIndex,
			Msg: fmt.Sprintf("%s is a single image (%s), not an index", ref, mt)}
	}
	desc.MediaType = mt
	desc.Descriptor.MediaType = mt
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, unparsable(ep.host, fmt.Sprintf("reading index of %s from %s", ref, ep.host), err)
	}
	res, err := newIndex(ctx, idx, desc.Manifest, ref, desc.Descriptor, ep.host, s, &blobSizes{m: map[v1.Hash]int64{}})
	if err != nil {
		return nil, err
	}
	res.up = p.after(ref.domain, ep)
	return res, nil
}

// child fetches the manifest h that the index lists, by digest, and checks its bytes before
// anything parses them. The descriptor it returns is the index's entry for h, as
// go-containerregistry gives it, with the bytes fetched.
func (i *Index) child(h v1.Hash, what string) (*remote.Descriptor, error) {
	entry, ok := i.listed[h]
	if !ok {
		return nil, &Error{Kind: ErrNotFound, Registry: i.Source, Msg: fmt.Sprintf("%s %s is not in the index of %s", what, h, i.Ref)}
	}
	if i.sess == nil || i.sess.rt == nil {
		return nil, fmt.Errorf("reading %s %s: index was not resolved by a Puller", what, h)
	}
	desc, err := remoteGet(i.ctx, i.sess, i.sess.repo.Digest(h.String()))
	if err != nil {
		return nil, i.childError(h, err)
	}
	// go-containerregistry checks the bytes against the digest, except for a manifest sent
	// as a signed schema 1: then it takes the registry's Docker-Content-Digest for theirs.
	if !hashes(desc.Manifest, h) {
		return nil, &Error{Registry: i.Source, Msg: fmt.Sprintf("%s %s of %s from %s: the registry sent other bytes (%d) than the digest names",
			what, h, i.Ref, i.Source, len(desc.Manifest))}
	}
	if err := checkManifest(desc.Manifest, fmt.Sprintf("%s %s of %s", what, h, i.Ref), i.Source); err != nil {
		return nil, err
	}
	desc.Descriptor = entry
	return desc, nil
}

// Image returns the image manifest h that the index lists, worded as this package words
// registry failures, and remembers its blobs' sizes for FetchBlob.
func (i *Index) Image(h v1.Hash) (v1.Image, error) {
	desc, err := i.child(h, "manifest")
	if err != nil {
		return nil, err
	}
	// The kind the index lists is trusted, as go-containerregistry does; a kind strata does
	// not know is still read as an image manifest, as it always was: an index may list
	// artifacts. An entry listed as an index is read as an image manifest too, and refused
	// below when it is an index: go-containerregistry handed out an image from inside it in
	// its place (another digest).
	raw := desc.Manifest
	mt := desc.MediaType
	if !mt.IsImage() {
		mt = types.OCIManifestSchema1
	}
	if desc.MediaType.IsIndex() || desc.MediaType == "" {
		desc.MediaType = mt
	}
	img, err := desc.Image()
	if err != nil {
		return nil, i.childError(h, err)
	}
	err = kindConflict(mt, raw)
	if err == nil && !hashes(raw, h) {
		err = fmt.Errorf("%w: manifest %s is an index, where an image was asked for", ErrUnsupportedMediaType, h)
	}
	if err != nil {
		return nil, refused(err, i.Ref, i.Source)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, i.childError(h, err)
	}
	if err := digestsGiven(m); err != nil {
		return nil, unparsable(i.Source, fmt.Sprintf("manifest %s of %s from %s", h, i.Ref, i.Source), err)
	}
	if err := configSize(m.Config, i.Ref, fmt.Sprintf("manifest %s of %s from %s", h, i.Ref, i.Source), i.Source); err != nil {
		return nil, err
	}
	i.sizes.add(m.Config)
	i.sizes.add(m.Layers...)
	return img, nil
}

// ImageIndex returns the index h that the index lists, itself an Index sharing this one's
// transport and sizes.
func (i *Index) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	desc, err := i.child(h, "index")
	if err != nil {
		return nil, err
	}
	raw := desc.Manifest
	mt := desc.MediaType
	if !mt.IsIndex() {
		mt = types.OCIImageIndex
	}
	if err := kindConflict(mt, raw); err != nil {
		return nil, refused(err, i.Ref, i.Source)
	}
	desc.MediaType = mt
	sub, err := desc.ImageIndex()
	if err != nil {
		return nil, i.childError(h, err)
	}
	res, err := newIndex(i.ctx, sub, raw, i.Ref, i.Descriptor, i.Source, i.sess, i.sizes)
	if err != nil {
		return nil, err
	}
	res.up = i.up
	return res, nil
}

// hashes reports whether b is the content h names.
func hashes(b []byte, h v1.Hash) bool {
	hasher, err := v1.Hasher(h.Algorithm)
	if err != nil {
		return false
	}
	hasher.Write(b)
	return hex.EncodeToString(hasher.Sum(nil)) == h.Hex
}

func (i *Index) childError(h v1.Hash, err error) error {
	return classify(err, opPull, fmt.Sprintf("manifest %s of %s", h, i.Ref), i.Ref.Name(), i.Source)
}

// FetchBlob GETs blob h of the index's repository from offset on, as Image.FetchBlob does.
// Blobs of manifests read through Image get a closed Range.
func (i *Index) FetchBlob(ctx context.Context, h v1.Hash, offset int64) (io.ReadCloser, error) {
	if i.sess == nil || i.sess.rt == nil {
		return nil, errors.New("fetching blob: index was not resolved by a Puller")
	}
	size, ok := i.sizes.get(h)
	return i.up.fetch(ctx, i.sess, i.Ref, h, offset, size, ok)
}
