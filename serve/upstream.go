package serve

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// NewPullThrough returns the PullFunc of `strata serve --pull-through UPSTREAM`: a miss of
// name:reference pulls UPSTREAM/name:reference (for the platform in opts) into store, under
// that full ref, exactly as `strata pull` would store it; a miss of name@digest naming an
// index pulls the whole index, as `strata pull --all-platforms` would. UPSTREAM is a registry host
// ("docker.io", "registry.local:5000") or a URL; an http:// URL makes that host insecure
// (plain HTTP), as --insecure-registry does.
func NewPullThrough(upstream string, store *cache.Store, opts registry.Options) (PullFunc, error) {
	return NewPullThroughChecked(upstream, store, opts, nil)
}

// NewPullThroughChecked is NewPullThrough whose pulls hand check each layer's blob as it is
// stored, and each stored blob no stored image pairs with its DiffID (see cache.WriteOptions
// with NeedLayer false): strata serve checks there a layer unpacked here already to be that
// blob, as pull --no-unpack does, since a run of the image would use that layer dir.
func NewPullThroughChecked(upstream string, store *cache.Store, opts registry.Options, check cache.LayerFunc) (PullFunc, error) {
	return NewPullThroughProven(upstream, store, opts, check, nil)
}

// NewPullThroughProven is NewPullThroughChecked where a stored blob is spared the check only
// when proven says it is the layer of the DiffID (the layer store's proofs,
// cache.WriteOptions.Proven), not when a stored image pairs the two.
func NewPullThroughProven(upstream string, store *cache.Store, opts registry.Options, check cache.LayerFunc, proven func(blob, diffID v1.Hash) bool) (PullFunc, error) {
	host, insecure, err := parseUpstream(upstream)
	if err != nil {
		return nil, err
	}
	if insecure {
		opts.InsecureRegistries = append(opts.InsecureRegistries, host)
	}
	puller, err := registry.NewPuller(opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, name, reference string) error {
		sep := ":"
		if strings.Contains(reference, ":") {
			sep = "@"
		}
		ref, err := registry.ParseReference(host + "/" + name + sep + reference)
		if err != nil {
			return err
		}
		wo := cache.WriteOptions{Concurrency: maxPullLayers}
		if check != nil {
			wo.Layer, wo.NeedLayer = check, func(v1.Hash) bool { return false }
			wo.Proven = proven
		}
		if sep == "@" {
			// A client that names a digest wants those bytes: when they are an index (a
			// multi-platform image pinned by digest), the index is stored, with every
			// platform's image, or the mirror would store only its own platform's manifest,
			// answer 404 for the digest asked, and pull again on each request.
			idx, err := puller.Index(ctx, ref)
			if err == nil {
				wo.Fetch = idx.FetchBlob
				if _, err := store.WriteIndex(ctx, ref.String(), idx, wo); err != nil {
					return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
				}
				return nil
			}
			if !errors.Is(err, registry.ErrNotIndex) {
				return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
			}
		}
		img, err := puller.Image(ctx, ref)
		if err != nil {
			return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
		}
		wo.Fetch = img.FetchBlob
		_, err = store.WriteImage(ctx, ref.String(), img, wo)
		if err != nil {
			return fmt.Errorf("pulling %s: %w", ref.Familiar(), err)
		}
		return nil
	}, nil
}

// parseUpstream turns --pull-through's value into a registry host, and whether to reach it by
// plain HTTP. Docker Hub's API hosts become "docker.io", the name its refs are stored under.
func parseUpstream(s string) (host string, insecure bool, err error) {
	// What the messages show: a password given in the URL is not printed.
	shown := registry.RedactMirror(s)
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			// net/url's own text quotes the URL again, password and all.
			return "", false, fmt.Errorf("invalid upstream %q: not a URL; want http(s)://host[:port] or host[:port]", shown)
		}
		if u.User != nil {
			// Pulls went upstream without them, and nothing said so.
			return "", false, fmt.Errorf("invalid upstream %q: credentials do not go in it; give them with 'strata login %s'", shown, u.Host)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return "", false, fmt.Errorf("invalid upstream %q: want http(s)://host[:port] or host[:port]", shown)
		}
		s, insecure = u.Host, u.Scheme == "http"
	}
	switch s {
	case "registry-1.docker.io", "index.docker.io":
		s = "docker.io"
	}
	if s == "" || strings.ContainsAny(s, "/@ ") {
		return "", false, fmt.Errorf("invalid upstream %q: want http(s)://host[:port] or host[:port]", shown)
	}
	// The host must be something a reference can start with.
	ref, err := registry.ParseReference(s + "/x")
	if err != nil {
		return "", false, fmt.Errorf("invalid upstream %q: %w", s, err)
	}
	if !strings.HasPrefix(ref.Name(), s+"/") {
		return "", false, fmt.Errorf("invalid upstream %q: not a registry host (one with a dot, a port, or localhost)", s)
	}
	return s, insecure, nil
}

// maxPullLayers is how many blobs one pull-through fetches from upstream at once. With at most
// maxPullsThrough pulls under way, no burst of client requests makes more than
// maxPullsThrough*maxPullLayers upstream fetches at a time.
const maxPullLayers = 3
