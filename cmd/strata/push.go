package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

func newPushCmd(g *globals) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Upload a stored image to the registry its name points at",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runPush(cmd.Context(), g, args[0], quiet, cmd.OutOrStdout()); err != nil {
				return err
			}
			refEvent(g, "push", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image reference")
	addContentTrustFlag(cmd)
	return cmd
}

func runPush(ctx context.Context, g *globals, arg string, quiet bool, out io.Writer) error {
	ref, err := registry.ParseReference(arg)
	if err != nil {
		return err
	}
	store, err := g.openStore()
	if err != nil {
		return err
	}
	// As docker: the name pushed is a name in the store, so `strata tag` comes first when the
	// image is stored under another one.
	desc, err := store.Resolve(ref.String())
	// The name the store keeps the image under, which the push then marks as the registry's;
	// "" for NAME@DIGEST found among NAME's tags, which moves no tag in the registry.
	stored := ref.String()
	if errors.Is(err, cache.ErrNotFound) && ref.Digest() != "" {
		stored, desc, err = resolvePushDigest(store, ref)
		if err != nil {
			return err
		}
	}
	if errors.Is(err, cache.ErrNotFound) && cache.CheckRef(ref.String()) != nil {
		// A name the store refuses ("sha256:x" reads as an image ID): tag could not give it.
		return fmt.Errorf("pushing %s: image %w in the store", ref.Familiar(), cache.ErrNotFound)
	}
	if errors.Is(err, cache.ErrNotFound) {
		return fmt.Errorf("pushing %s: image %w in the store; name one with 'strata tag IMAGE %s' first", ref.Familiar(), cache.ErrNotFound, ref.Familiar())
	}
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	if err := checkLayersHere(ctx, g, store, desc); err != nil {
		return fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	if !quiet {
		fmt.Fprintf(out, "The push refers to repository [%s]\n", ref.Name())
	}
	opts := g.registryOptions()
	if !quiet {
		// One line per change, as docker prints a push when not on a terminal.
		var mu sync.Mutex
		opts.PushProgress = func(e registry.PushEvent) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "%s: %s\n", e.Digest.Hex[:min(12, len(e.Digest.Hex))], e.Status)
		}
	}
	if desc.MediaType.IsIndex() {
		err = pushIndex(ctx, store, ref, desc, opts)
	} else {
		err = pushImage(ctx, store, ref, desc, opts)
	}
	if err != nil && ctx.Err() != nil {
		// Said so, naming the image: the failed request's own words were net/http's
		// `Head "URL": context canceled`, which named neither.
		return fmt.Errorf("pushing %s: interrupted: %w", ref.Familiar(), context.Cause(ctx))
	}
	if damaged, kind := storeDamage(err); damaged != nil {
		// The upload broke off because the store's copy is damaged, not because of the
		// registry, which the message would otherwise name.
		if kind == cache.ErrNotFound {
			return fmt.Errorf("pushing %s: the stored image is incomplete, a blob is missing from the store: %w; pull the image again to repair it", ref.Familiar(), damaged)
		}
		return fmt.Errorf("pushing %s: the stored image is damaged, and nothing of the damaged blob was pushed: %w; pull the image again to repair it", ref.Familiar(), damaged)
	}
	if err != nil {
		return err
	}
	// The manifest went up byte for byte, so the tag now points at the stored digest: the
	// next pull of this name is a one-request "up to date".
	if stored != "" {
		pushed := desc
		pushed.Annotations = map[string]string{rootDigestAnnotation: desc.Digest.String()}
		if err := store.Tag(stored, pushed); err != nil {
			// The registry has the image: the push succeeded. A store on a full disk, or
			// read-only, cannot write the mark, which only spares the next pull a request;
			// failing the push for it made scripts push again what was there.
			fmt.Fprintln(os.Stderr, "strata: warning: "+oneLine("pushed, but the store could not record it (the next pull asks the registry again): "+err.Error()))
		}
	}
	if quiet {
		// docker push -q prints the reference pushed, as pull -q does: scripts take it.
		_, err := fmt.Fprintln(out, ref.String())
		return err
	}
	if ref.Tag() != "" {
		fmt.Fprintf(out, "%s: ", ref.Tag())
	}
	fmt.Fprintf(out, "digest: %s size: %d\n", desc.Digest, desc.Size)
	return nil
}

// resolvePushDigest finds the image NAME@DIGEST names when the store has no ref of that exact
// name, as `strata tag` makes none with a digest: NAME:TAG@DIGEST is NAME:TAG, checked to be
// DIGEST, and pushed to the tag; NAME@DIGEST is any of NAME's tags whose image is DIGEST, and
// is pushed by digest, moving no tag. It returns the stored name that the push makes the
// registry's ("" for a push by digest) and the image's descriptor.
func resolvePushDigest(store *cache.Store, ref registry.Reference) (string, v1.Descriptor, error) {
	if ref.Tag() != "" {
		tagged, err := ref.WithTag(ref.Tag())
		if err != nil {
			return "", v1.Descriptor{}, err
		}
		desc, err := store.Resolve(tagged.String())
		if errors.Is(err, cache.ErrNotFound) {
			return "", v1.Descriptor{}, fmt.Errorf("pushing %s: image %s %w in the store", ref.Familiar(), tagged.Familiar(), cache.ErrNotFound)
		}
		if err != nil {
			return "", v1.Descriptor{}, fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
		}
		if desc.Digest.String() != ref.Digest() {
			return "", v1.Descriptor{}, fmt.Errorf("pushing %s: %s in the store is %s, not %s", ref.Familiar(), tagged.Familiar(), desc.Digest, ref.Digest())
		}
		return tagged.String(), desc, nil
	}
	refs, err := store.List()
	if err != nil {
		return "", v1.Descriptor{}, fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	for _, r := range refs {
		if r.Descriptor.Digest.String() != ref.Digest() {
			continue
		}
		if rr, err := registry.ParseReference(r.Name); err == nil && rr.Name() == ref.Name() {
			return "", r.Descriptor, nil
		}
	}
	return "", v1.Descriptor{}, fmt.Errorf("pushing %s: no image of %s in the store has digest %s (see 'strata images --digests %s')", ref.Familiar(), ref.FamiliarName(), ref.Digest(), ref.FamiliarName())
}

func pushImage(ctx context.Context, store *cache.Store, ref registry.Reference, desc v1.Descriptor, opts registry.Options) error {
	img, err := store.Image(desc.Digest)
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	return registry.Push(ctx, ref, img, opts)
}

// pushIndex pushes a multi-platform image: a ref in the store that names an index (pull and
// load store one platform's manifest today, but the layout allows indexes and save reads
// them).
func pushIndex(ctx context.Context, store *cache.Store, ref registry.Reference, desc v1.Descriptor, opts registry.Options) error {
	idx, err := newStoreIndex(store, desc)
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	return registry.PushIndex(ctx, ref, idx, opts)
}

// storeIndex is a stored index read through the store, which verifies each blob as it is read,
// the index's own bytes included: go-containerregistry's layout package reads them unverified,
// so an index damaged on disk (a flipped byte that still parses) went up as it was, under the
// tag, while strata printed and recorded the stored digest; and a registry that does not check
// digests would publish a layer damaged on disk as the image's.
type storeIndex struct {
	store *cache.Store
	desc  v1.Descriptor
	raw   []byte // verified against desc.Digest
}

var _ v1.ImageIndex = storeIndex{}

func newStoreIndex(store *cache.Store, desc v1.Descriptor) (storeIndex, error) {
	raw, err := store.ReadBlob(desc.Digest, registry.MaxManifestSize)
	if err != nil {
		return storeIndex{}, err
	}
	return storeIndex{store: store, desc: desc, raw: raw}, nil
}

func (i storeIndex) MediaType() (types.MediaType, error) {
	if i.desc.MediaType != "" {
		return i.desc.MediaType, nil
	}
	m, err := i.IndexManifest()
	if err != nil {
		return "", err
	}
	if m.MediaType != "" {
		return m.MediaType, nil
	}
	return types.OCIImageIndex, nil
}

func (i storeIndex) Digest() (v1.Hash, error) { return i.desc.Digest, nil }

func (i storeIndex) Size() (int64, error) { return int64(len(i.raw)), nil }

func (i storeIndex) RawManifest() ([]byte, error) { return i.raw, nil }

func (i storeIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(i.raw))
}

func (i storeIndex) Image(h v1.Hash) (v1.Image, error) { return i.store.Image(h) }

func (i storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	m, err := i.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Digest == h {
			return newStoreIndex(i.store, d)
		}
	}
	return nil, fmt.Errorf("index %s lists no %s", i.desc.Digest, h)
}

// storeDamage returns the store's own error within err, "blob …: digest mismatch: …", when a
// blob read for a push was damaged on disk, or "opening blob …: not found" when it was missing
// from it, and which of cache's errors it is; else nil. A missing blob is cache.ErrNotFound,
// never the registry's (registry.ErrNotFound): the image was resolved in the store before.
func storeDamage(err error) (error, error) {
	if err == nil {
		return nil, nil
	}
	var children []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		children = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		children = u.Unwrap()
	}
	for _, c := range children {
		if c == cache.ErrDigestMismatch || c == cache.ErrSizeMismatch || c == cache.ErrNotFound {
			return err, c
		}
		if d, kind := storeDamage(c); d != nil {
			return d, kind
		}
	}
	return nil, nil
}
