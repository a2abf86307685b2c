package main

import (
	"fmt"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// findByRepoDigest finds the stored image that arg, a reference with a digest
// ("127.0.0.1:5000/alpine@sha256:…"), names as docker resolves it locally: an image of that
// repository whose repo digest is that digest. A stored ref's repo digest is what pull
// recorded as the root (the index it was pulled by, which pull prints as "Digest:" and image
// inspect lists in RepoDigests), the manifest or index it holds (what images --digests
// shows), or the digest of its own name. The tag of arg, if any, is ignored, as docker
// ignores the tag of a reference with a digest.
//
// Names of the repository pulled for different platforms from the same index all have the
// index's digest: the one holding the very manifest named wins, then one holding the whole
// index, then the one pulled for this host; otherwise the digest is ambiguous. Any error
// that is not ErrAmbiguous wraps cache.ErrNotFound, so the caller words "not in the store".
func findByRepoDigest(store *cache.Store, arg string) (cache.Ref, error) {
	notFound := fmt.Errorf("finding image %s: %w", arg, cache.ErrNotFound)
	want, err := registry.ParseReference(arg)
	if err != nil || want.Digest() == "" {
		return cache.Ref{}, notFound
	}
	refs, err := store.List()
	if err != nil {
		return cache.Ref{}, err
	}
	d := want.Digest()
	var found []cache.Ref
	for _, r := range refs {
		have, err := registry.ParseReference(r.Name)
		if err != nil || have.Name() != want.Name() {
			continue
		}
		if r.Descriptor.Digest.String() == d || r.Descriptor.Annotations[rootDigestAnnotation] == d || have.Digest() == d {
			found = append(found, r)
		}
	}
	host := registry.DefaultPlatform().String()
	for _, keep := range []func(cache.Ref) bool{
		func(cache.Ref) bool { return true },
		func(r cache.Ref) bool { return r.Descriptor.Digest.String() == d },
		func(r cache.Ref) bool { return r.Descriptor.MediaType.IsIndex() },
		func(r cache.Ref) bool { return r.Descriptor.Annotations[platformAnnotation] == host },
	} {
		if r, ok := sameImage(found, keep); ok {
			return r, nil
		}
	}
	if len(found) == 0 {
		return cache.Ref{}, notFound
	}
	return cache.Ref{}, fmt.Errorf("finding image %s: %w: matches %s and %s", arg, cache.ErrAmbiguous, familiarRef(found[0].Name), familiarRef(found[1].Name))
}

// sameImage returns, of the refs that keep accepts, the one to name the image by when they
// all hold the same manifest or index: a name by digest if one is there (so rmi removes that
// name, not a tag), else the first. ok is false when none or more than one image is left.
func sameImage(refs []cache.Ref, keep func(cache.Ref) bool) (cache.Ref, bool) {
	var kept []cache.Ref
	for _, r := range refs {
		if keep(r) {
			if len(kept) > 0 && kept[0].Descriptor.Digest != r.Descriptor.Digest {
				return cache.Ref{}, false
			}
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		return cache.Ref{}, false
	}
	for _, r := range kept {
		if ref, err := registry.ParseReference(r.Name); err == nil && ref.Digest() != "" {
			return r, true
		}
	}
	return kept[0], true
}
