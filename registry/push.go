package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Push uploads img to ref: to its tag, or to its digest when ref has no tag. Blobs the registry
// already has are skipped. Mirrors play no part: a push goes to the registry itself. The
// manifest is uploaded byte for byte as img serializes it, so its digest is unchanged.
func Push(ctx context.Context, ref Reference, img v1.Image, opts Options) error {
	return push(ctx, ref, opts, func(r name.Reference, o []remote.Option) error {
		return remote.Write(r, img, o...)
	})
}

// PushIndex uploads an index and every manifest and blob it lists to ref, as Push does for one
// image.
func PushIndex(ctx context.Context, ref Reference, idx v1.ImageIndex, opts Options) error {
	return push(ctx, ref, opts, func(r name.Reference, o []remote.Option) error {
		return remote.WriteIndex(r, idx, o...)
	})
}

func push(ctx context.Context, ref Reference, opts Options, write func(name.Reference, []remote.Option) error) error {
	p, err := NewPuller(opts)
	if err != nil {
		return err
	}
	if ref.tag != "" {
		ref.digest = "" // a tag is what a push names; a digest would be computed anyway
	}
	ep := endpoint{host: ref.domain, insecure: p.insecure(ref.domain)}
	s, rref, err := p.open(ctx, ref, ep, transport.PushScope)
	if err != nil {
		return err
	}
	if err := write(rref, s.options(ctx)); err != nil {
		return classify(err, opPush, "repository "+ref.Name(), ref.Name(), ep.host)
	}
	return nil
}
