package main

import (
	"context"
	"errors"

	"github.com/strata-run/strata/mount"
	"github.com/strata-run/strata/runner"
)

// noSuchContainerError is a --volumes-from of a container that does not exist, in docker's
// words ("No such container: X"); it is a runner.ErrNotFound.
type noSuchContainerError struct{ ref string }

func (e noSuchContainerError) Error() string { return "No such container: " + quoteArg(e.ref) }
func (e noSuchContainerError) Unwrap() error { return runner.ErrNotFound }

// volumesFromMounts returns own, the new container's mounts, with those each --volumes-from
// container lends (runner.LentMounts): the anonymous volumes of such a container are moved
// into the volume store first (runner.ShareAnonymousVolumes), so both can mount them. A
// container that lends mounts it got by --volumes-from lends those too, as docker's.
func volumesFromMounts(ctx context.Context, store *runner.Store, specs []string, own []mount.Mount) ([]mount.Mount, error) {
	if len(specs) == 0 {
		return own, nil
	}
	var lent [][]mount.Mount
	for _, spec := range specs {
		ref, readonly, err := runner.ParseVolumesFrom(spec)
		if err != nil {
			return nil, err
		}
		c, err := store.Get(ref)
		if errors.Is(err, runner.ErrNotFound) {
			return nil, noSuchContainerError{ref}
		}
		if err != nil {
			return nil, err
		}
		if c.Broken == nil {
			if err := runner.ShareAnonymousVolumes(ctx, c); err != nil {
				if errors.Is(err, runner.ErrNotFound) {
					return nil, noSuchContainerError{ref} // removed meanwhile
				}
				return nil, err
			}
		}
		ms, err := runner.LentMounts(c, readonly)
		if err != nil {
			return nil, err
		}
		lent = append(lent, ms)
	}
	return runner.MergeVolumesFrom(own, lent), nil
}
