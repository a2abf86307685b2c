package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/runner"
)

func newRmiCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove images, and the blobs and layers nothing else uses",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore()
			if err != nil {
				return err
			}
			containers, err := g.openContainers()
			if err != nil {
				return err
			}
			list, err := containers.List()
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				name, info, err := findImageInfo(store, a)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if !force {
					if c := containerUsingImage(list, info); c != "" {
						// Docker's words, which scripts match.
						errs = append(errs, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", a, c, shortID(info.ID.String())))
						continue
					}
				}
				if err := store.Untag(name); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", familiarRef(name))
			}
			if _, err := collectGarbage(cmd.Context(), g, false); err != nil {
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the image even if containers use it")
	return cmd
}

// findImageInfo finds a stored image by the user's words: a reference or an ID prefix. A ref
// naming a multi-platform index is found whatever platforms it holds.
func findImageInfo(store *cache.Store, arg string) (string, cache.ImageInfo, error) {
	r, err := findRef(store, arg)
	if err != nil {
		return "", cache.ImageInfo{}, err
	}
	info, err := store.Info(r)
	return r.Name, info, err
}

// containerUsingImage returns the short ID of a container created from info's image, or "":
// by its ID, or for an index by the config of any platform it lists (what containers made
// before strata kept indexes whole recorded).
func containerUsingImage(list []*runner.Container, info cache.ImageInfo) string {
	if c := containerUsing(list, info.ID.String()); c != "" {
		return c
	}
	for _, p := range info.Platforms {
		if c := containerUsing(list, p.ID.String()); c != "" {
			return c
		}
	}
	return ""
}
