package main

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
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
			// Held from the check that no container uses an image to its untag: run and create
			// hold it shared from their image lookup to their container's record, so a
			// container made meanwhile is either seen here or finds the image gone.
			release, err := holdCollection(cmd.Context(), store, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			untagged, errs := untagImages(cmd, store, containers, args, force)
			if err := release(); err != nil {
				errs = append(errs, err)
			}
			gb, err := collectGarbage(cmd.Context(), g, false, func(store *cache.Store) ([]cache.ImageInfo, error) {
				return danglingBesides(store, untagged)
			})
			if err != nil && (len(untagged) > 0 || len(errs) == 0) {
				// The collection also sweeps what a killed rmi left, so it runs even when
				// nothing was untagged; its failure then is news only alone: after untags
				// that failed it is most often their cause again (a lock file replaced
				// by a FIFO, a read-only store), a second line for one fault.
				errs = append(errs, err)
			}
			printDeleted(cmd.OutOrStdout(), untagged, gb)
			imageRemovalEvents(g, untagged, gb)
			// As docker's: an error line for each image that failed, after the others
			// were removed.
			return eachError(cmd.ErrOrStderr(), errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the image even if containers use it")
	// docker rmi --no-prune keeps the untagged parent images of its builder's chain; strata's
	// images have no parents, so there is nothing it would keep.
	cmd.Flags().Bool("no-prune", false, "accepted for docker's scripts: strata's images have no untagged parents to keep")
	return cmd
}

// danglingBesides is what rmi's collection keeps whole: the dangling images but those rmi
// just untagged. Another image whose last name moved away (a tag, a pull) stays until a
// prune, as docker's rmi leaves it; the collection still sweeps blobs that are no image (a
// killed pull's, a killed rmi's).
func danglingBesides(store *cache.Store, untagged []cache.ImageInfo) ([]cache.ImageInfo, error) {
	dangling, err := store.Dangling()
	if err != nil {
		return nil, err
	}
	gone := map[v1.Hash]bool{}
	for _, info := range untagged {
		gone[info.Manifest.Digest] = true
	}
	var keep []cache.ImageInfo
	for _, info := range dangling {
		if !gone[info.Manifest.Digest] {
			keep = append(keep, info)
		}
	}
	return keep, nil
}

// printDeleted says "Deleted: <ID>" for each image of untagged that the collection gb
// removed (its config, or its index), as docker's rmi does after the Untagged lines: an
// image another name still keeps is not deleted, and not said to be.
func printDeleted(w io.Writer, untagged []cache.ImageInfo, gb garbage) {
	removed := map[v1.Hash]bool{}
	for _, b := range gb.Blobs {
		removed[b.Digest] = true
	}
	said := map[v1.Hash]bool{}
	for _, info := range untagged {
		if removed[info.ID] && !said[info.ID] {
			said[info.ID] = true
			fmt.Fprintf(w, "Deleted: %s\n", info.ID)
		}
	}
}

// untagImages untags the images args name, as rmi does, and returns the images it untagged
// and what failed.
func untagImages(cmd *cobra.Command, store *cache.Store, containers *runner.Store, args []string, force bool) ([]cache.ImageInfo, []error) {
	list, err := containers.List()
	if err != nil {
		return nil, []error{err}
	}
	var untagged []cache.ImageInfo
	var errs []error
	for _, a := range args {
		name, info, err := findImageInfo(store, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if name == "" {
			// A dangling image, by its ID: no name to untag. One no container uses goes
			// with the collection, as docker deletes it; one a container uses is kept.
			if running, stopped := imageUsers(list, info); running == nil && stopped == nil {
				untagged = append(untagged, info)
				continue
			}
			errs = append(errs, danglingConflict(list, info, force))
			continue
		}
		all, err := namesOf(store, info.Manifest.Digest)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		names := []string{name}
		// As docker's ImageDelete: by name, the image itself goes (and a container made
		// from it needs -f) only with its last name: one tag, with any digest names of its
		// repository. While other names keep the image, the name is only untagged.
		check := !force && singleReference(all)
		if repo, ok := digestRepo(a); ok {
			// NAME@DIGEST: strata keeps no row per digest, the repository's names carry
			// it; they go, and only they: the image's names in other repositories stay.
			names = nil
			for _, n := range all {
				if r, err := registry.ParseReference(n); err == nil && r.Name() == repo {
					names = append(names, n)
				}
			}
			check = !force && len(names) == len(all)
		} else if namesRef(a, name) {
			// By tag, as docker's: the repository's names by digest go with its last tag,
			// so the image goes with them (they kept it, a <none> row of the repository).
			names = append(names, digestNamesLeft(all, name)...)
		} else {
			// By ID, as docker: every name of the image goes, and an image with names
			// in several repositories needs -f rather than losing one arbitrary name.
			names, check = all, false
			if len(names) > 1 && !force && !singleReference(names) {
				errs = append(errs, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", shortID(info.ID.String())))
				continue
			}
			// And, as docker's, by ID the image itself is deleted: refused while a running
			// container uses it, -f or not (nothing is untagged then), and without -f
			// while a stopped one does.
			if running, stopped := imageUsers(list, info); running != nil {
				errs = append(errs, fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", shortID(info.ID.String()), shortID(running.ID)))
				continue
			} else if stopped != nil && !force {
				errs = append(errs, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", shortID(info.ID.String()), shortID(stopped.ID)))
				continue
			}
		}
		if check {
			if c := containerUsingImage(list, info); c != "" {
				// Docker's words, which scripts match.
				errs = append(errs, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", a, c, shortID(info.ID.String())))
				continue
			}
		}
		done := false
		for _, n := range names {
			if err := store.Untag(n); err != nil {
				errs = append(errs, err)
				continue
			}
			done = true
			fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", familiarRef(n))
		}
		if done {
			untagged = append(untagged, info)
		}
	}
	return untagged, errs
}

// findImageInfo finds a stored image by the user's words: a reference or an ID prefix. A ref
// naming a multi-platform index is found whatever platforms it holds. An image whose config or
// manifest is missing or damaged is found all the same, described with what could be read
// (its ID from the manifest): docker's rmi removes such an image, and here nothing else
// could.
func findImageInfo(store *cache.Store, arg string) (string, cache.ImageInfo, error) {
	r, err := findRef(store, arg)
	if err != nil {
		return "", cache.ImageInfo{}, err
	}
	info, err := store.Info(r)
	if err != nil {
		info = store.DescribeDamaged(r, err)
	}
	return r.Name, info, nil
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

// imageUsers returns a running container and a stopped one made from info (from its ID, or
// from one of its platforms' for an index), nil where there is none.
func imageUsers(list []*runner.Container, info cache.ImageInfo) (running, stopped *runner.Container) {
	ids := map[string]bool{info.ID.String(): true}
	for _, p := range info.Platforms {
		ids[p.ID.String()] = true
	}
	for _, c := range list {
		switch {
		case !ids[c.Config.ImageID]:
		case c.State.Running():
			if running == nil {
				running = c
			}
		case stopped == nil:
			stopped = c
		}
	}
	return running, stopped
}

// digestNamesLeft are the names by digest of name's repository among all, the names of one
// image, when name is a tag and no other tag of its repository is among them: what docker's
// rmi of that tag removes with it. Nil otherwise.
func digestNamesLeft(all []string, name string) []string {
	ref, err := registry.ParseReference(name)
	if err != nil || ref.Digest() != "" {
		return nil
	}
	var digests []string
	for _, n := range all {
		r, err := registry.ParseReference(n)
		if err != nil || n == name || r.Name() != ref.Name() {
			continue
		}
		if r.Digest() == "" {
			return nil // another tag of the repository keeps them
		}
		digests = append(digests, n)
	}
	return digests
}

// namesRef reports whether the user's arg names the stored ref name, rather than being an
// image ID (or a prefix of one) that found it.
// digestRepo is the repository of arg when arg is a NAME@DIGEST reference.
func digestRepo(arg string) (string, bool) {
	ref, err := registry.ParseReference(arg)
	if err != nil || ref.Digest() == "" {
		return "", false
	}
	return ref.Name(), true
}

func namesRef(arg, name string) bool {
	if arg == name {
		return true
	}
	ref, err := registry.ParseReference(arg)
	return err == nil && ref.String() == name
}

// namesOf returns every name in the store for the manifest (or index) digest d.
func namesOf(store *cache.Store, d v1.Hash) ([]string, error) {
	refs, err := store.List()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range refs {
		if r.Descriptor.Digest == d {
			names = append(names, r.Name)
		}
	}
	return names, nil
}

// singleReference is docker's isSingleReference: the names are one name by tag, and any by
// digest are of its repository; rmi by ID takes those without -f.
func singleReference(names []string) bool {
	if len(names) <= 1 {
		return len(names) == 1
	}
	single := ""
	canonical := map[string]bool{}
	for _, n := range names {
		ref, err := registry.ParseReference(n)
		if err != nil {
			return false
		}
		switch {
		case ref.Digest() != "":
			canonical[ref.Name()] = true
		case single != "":
			return false
		default:
			single = ref.Name()
		}
	}
	if single == "" {
		ref, _ := registry.ParseReference(names[0])
		single = ref.Name()
	}
	return len(canonical) == 1 && canonical[single]
}

// danglingConflict is rmi's refusal of a dangling image, in docker's words: a container uses
// it, or it would not be kept. Docker deletes one a stopped container uses with -f; strata
// keeps an image while a container records it (the collection's roots are the containers'
// images), so even -f is refused, saying what removes it.
func danglingConflict(list []*runner.Container, info cache.ImageInfo, force bool) error {
	id := shortID(info.ID.String())
	running, stopped := imageUsers(list, info)
	if running != nil {
		return fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", id, shortID(running.ID))
	}
	if stopped == nil {
		return fmt.Errorf("conflict: unable to delete %s - image is being used by a container", id)
	}
	if !force {
		return fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", id, shortID(stopped.ID))
	}
	return fmt.Errorf("conflict: unable to delete %s - image is being used by stopped container %s: an image a container uses is kept until the container is removed (strata rm %s)", id, shortID(stopped.ID), shortID(stopped.ID))
}
