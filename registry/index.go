package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Index resolves ref to an index (OCI image index or Docker manifest list) for callers that
// want every platform, such as copying a multi-platform image. Mirrors are tried as in Image.
// A reference to a single image manifest is an error of kind ErrUnsupportedMediaType.
func (p *Puller) Index(ctx context.Context, ref Reference) (v1.ImageIndex, v1.Descriptor, error) {
	var err error
	for _, ep := range p.endpoints(ref.domain) {
		var idx v1.ImageIndex
		var d v1.Descriptor
		idx, d, err = p.indexFrom(ctx, ref, ep)
		if err == nil {
			return idx, d, nil
		}
		if ctx.Err() != nil {
			return nil, v1.Descriptor{}, err
		}
	}
	return nil, v1.Descriptor{}, err
}

func (p *Puller) indexFrom(ctx context.Context, ref Reference, ep endpoint) (v1.ImageIndex, v1.Descriptor, error) {
	s, rref, err := p.open(ctx, ref, ep, transport.PullScope)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	desc, err := remoteGet(ctx, s, rref)
	if err != nil {
		return nil, v1.Descriptor{}, classify(err, opPull, "manifest for "+ref.String(), ref.Name(), ep.host)
	}
	mt, err := manifestType(desc.MediaType, desc.Manifest)
	if err != nil {
		return nil, v1.Descriptor{}, refused(err, ref, ep.host)
	}
	if !mt.IsIndex() {
		return nil, v1.Descriptor{}, &Error{Kind: ErrUnsupportedMediaType, Registry: ep.host,
			Msg: fmt.Sprintf("%s is a single image (%s), not an index", ref, mt)}
	}
	desc.MediaType = mt
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading index of %s from %s: %w", ref, ep.host, err)
	}
	return idx, desc.Descriptor, nil
}
