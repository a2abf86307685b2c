package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/registry"
)

func newTagCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Give a stored image another name, e.g. to push it to another registry",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			// The target is checked before the source is looked for, as docker's client
			// parses both before it asks for the image.
			target, err := registry.ParseReference(args[1])
			if err != nil {
				return err
			}
			if target.Digest() != "" {
				// A digest names content; a name given by the user could not keep that promise.
				return fmt.Errorf("tag %s: the target must be a name or name:tag, not a digest", args[1])
			}
			store, err := g.openStore()
			if err != nil {
				return err
			}
			// Held from finding the source to writing the name: an rmi of the source
			// meanwhile would otherwise collect the blobs the new name is given.
			release, err := store.Hold(cmd.Context())
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, release()) }()
			// A dangling image too, by its ID, as docker tags one (findRef looks among the
			// images containers use): the way to name again an image whose tag moved.
			src, err := findRef(store, args[0])
			if err != nil {
				return err
			}
			// What the source was pulled from is not where the new name points: its repo
			// digest belongs to the source's repository, so the new name starts without one.
			desc := src.Descriptor
			desc.Annotations = nil
			if err := store.Tag(target.String(), desc); err != nil {
				return err
			}
			id := src.Descriptor.Digest.String()
			if info, err := store.Info(src); err == nil {
				id = info.ID.String()
			}
			imageEvent(g, "tag", id, target.Familiar())
			return nil
		},
	}
}
