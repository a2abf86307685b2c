package serve

import (
	"regexp"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// nameRE is the repository name grammar of the distribution spec (spec.md#pulling-manifests),
// compiled on first use: every strata command would pay for it at start otherwise.
var nameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
})

// maxNameLen bounds a repository name, as docker's registry does (distribution/reference
// NameTotalLengthMax): no real name is longer, and a request path of a megabyte of name is
// refused before any matching.
const maxNameLen = 255

// tagRE is the spec's tag grammar.
var tagRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`) })

// dockerHub is the registry whose refs win when two registries hold the same path.
const dockerHub = "docker.io"

// storedRef is one ref of the store as it is served.
type storedRef struct {
	host string // "docker.io", "127.0.0.1:5000"
	path string // "library/alpine"
	tag  string // "" for a ref by digest
	desc v1.Descriptor
}

// view is the store's refs at one moment, in serving preference order.
type view []storedRef

// newView reads the store's refs. Refs that do not parse (written by other tools) are not
// served.
func newView(store *cache.Store) (view, error) {
	refs, err := store.List()
	if err != nil {
		return nil, err
	}
	v := make(view, 0, len(refs))
	for _, r := range refs {
		ref, err := registry.ParseReference(r.Name)
		if err != nil {
			continue
		}
		host, path, ok := strings.Cut(ref.Name(), "/")
		if !ok {
			continue
		}
		v = append(v, storedRef{host: host, path: path, tag: ref.Tag(), desc: r.Descriptor})
	}
	sort.SliceStable(v, func(i, j int) bool {
		if (v[i].host == dockerHub) != (v[j].host == dockerHub) {
			return v[i].host == dockerHub
		}
		return v[i].host < v[j].host
	})
	return v, nil
}

// matches reports whether r is served under name.
func (r storedRef) matches(name string) bool {
	switch {
	case r.path == name, r.host+"/"+r.path == name:
		return true
	case r.host == dockerHub && r.path == "library/"+name:
		return true
	}
	return false
}

// repo returns the refs served under name, preferred first.
func (v view) repo(name string) view {
	var out view
	for _, r := range v {
		if r.matches(name) {
			out = append(out, r)
		}
	}
	return out
}

// tags lists the repo's tags, sorted and distinct.
func (v view) tags() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, r := range v {
		if r.tag != "" && !seen[r.tag] {
			seen[r.tag] = true
			out = append(out, r.tag)
		}
	}
	sort.Strings(out)
	return out
}

// names lists every served path, sorted and distinct.
func (v view) names() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, r := range v {
		if !seen[r.path] {
			seen[r.path] = true
			out = append(out, r.path)
		}
	}
	sort.Strings(out)
	return out
}

// paginate applies the spec's n and last: the items after last, at most n of them.
func paginate(items []string, last string, n int) (page []string, more bool) {
	start := 0
	if last != "" {
		start = sort.SearchStrings(items, last)
		if start < len(items) && items[start] == last {
			start++
		}
	}
	page = items[start:]
	if n >= 0 && len(page) > n {
		return page[:n], true
	}
	return page, false
}
