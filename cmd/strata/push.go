package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

func newPushCmd(g *globals) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload a stored image to the registry its name points at",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPush(cmd.Context(), g, args[0], quiet, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing but errors")
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
	if errors.Is(err, cache.ErrNotFound) {
		return fmt.Errorf("pushing %s: image %w in the store; name one with 'strata tag IMAGE %s' first", ref.Familiar(), cache.ErrNotFound, ref.Familiar())
	}
	if err != nil {
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
	if damaged := storeDamage(err); damaged != nil {
		// The upload broke off because the store's copy is damaged, not because of the
		// registry, which the message would otherwise name.
		return fmt.Errorf("pushing %s: the stored image is damaged, and nothing of the damaged blob was pushed: %w; pull the image again to repair it", ref.Familiar(), damaged)
	}
	if err != nil {
		return err
	}
	// The manifest went up byte for byte, so the tag now points at the stored digest: the
	// next pull of this name is a one-request "up to date".
	pushed := desc
	pushed.Annotations = map[string]string{rootDigestAnnotation: desc.Digest.String()}
	if err := store.Tag(ref.String(), pushed); err != nil {
		return err
	}
	if !quiet {
		if ref.Tag() != "" {
			fmt.Fprintf(out, "%s: ", ref.Tag())
		}
		fmt.Fprintf(out, "digest: %s size: %d\n", desc.Digest, desc.Size)
	}
	return nil
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
// them). The store is an OCI image layout, so go-containerregistry's layout package reads it.
func pushIndex(ctx context.Context, store *cache.Store, ref registry.Reference, desc v1.Descriptor, opts registry.Options) error {
	p, err := layout.FromPath(store.Dir())
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	idx, err := top.ImageIndex(desc.Digest)
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref.Familiar(), err)
	}
	return registry.PushIndex(ctx, ref, storeIndex{idx, store}, opts)
}

// storeIndex is a stored index whose images are read through the store, which verifies each
// blob as it is read: the layout package reads them unverified, and a registry that does not
// check digests would publish a blob damaged on disk as the image's.
type storeIndex struct {
	layoutIndex
	store *cache.Store
}

// layoutIndex lets storeIndex embed a v1.ImageIndex and still define its own ImageIndex method.
type layoutIndex = v1.ImageIndex

func (i storeIndex) Image(h v1.Hash) (v1.Image, error) { return i.store.Image(h) }

func (i storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	sub, err := i.layoutIndex.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	return storeIndex{sub, i.store}, nil
}

// storeDamage returns the store's own error within err, "blob …: digest mismatch: …", when a
// blob read for a push was damaged on disk; else nil.
func storeDamage(err error) error {
	if err == nil {
		return nil
	}
	var children []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		children = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		children = u.Unwrap()
	}
	for _, c := range children {
		if c == cache.ErrDigestMismatch || c == cache.ErrSizeMismatch {
			return err
		}
		if d := storeDamage(c); d != nil {
			return d
		}
	}
	return nil
}
