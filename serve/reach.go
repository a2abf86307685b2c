package serve

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// Whether a blob or a manifest by digest is served under a name depends on what the name's
// refs reach: every manifest, config and layer below them. Walking that on each request
// reads (and hashes) every manifest of the name, once per blob HEAD or GET: a pull of an
// image of 50 layers out of a name with 100 tags read 5000 manifests. So the walk is done
// once per root (the manifest or index a ref names) and its result kept: a root is
// content-addressed, so what it reaches never changes, as long as the walk read every
// manifest below it. A walk that could not (a manifest missing or damaged on disk, maybe
// being pulled again) is not kept, and the next request walks again. The view (index.json
// parsed) is kept too, until index.json changes.

// reachSet is what one root reaches, by digest: the first descriptor met for each digest, in
// the walk's order, among all (blobs) and among manifests and indexes (manifests).
type reachSet struct {
	blobs     map[v1.Hash]v1.Descriptor
	manifests map[v1.Hash]v1.Descriptor
	// err is why a manifest the walk needed could not be read when the server, not the
	// store, was at fault (transient): what it would have reached is unknown, not absent.
	err error
}

// maxReachRoots bounds how many roots' walks a Server keeps; past it, it starts over. Roots
// no longer in index.json are dropped whenever the view is read again.
const maxReachRoots = 1 << 12

// indexFile is the store's index (image-layout.md#indexjson-file).
const indexFile = "index.json"

// racyWindow is how recent a change of index.json may be for its view not to be kept: a file
// system whose clock is coarse could give two writes in a row the same mtime (and a freed
// inode may come back), so a view is only trusted once its index.json has aged past that.
const racyWindow = 2 * time.Second

// A client pulls an image in several requests: its manifest by tag, then the manifests and
// blobs it names, by digest. When the tag leaves the name meanwhile (a `strata pull` moved it
// to a newer image, a `tag` to another, an `rmi` removed it while another name keeps the
// blobs), the rest of the pull would be 404 for content still on disk, where docker's
// registry keeps serving a repository's blobs and manifests until they are collected. So the
// refs that left index.json are remembered for goneGrace, and what they reach is still served
// by digest under their name, while it is on disk; tags and the catalog show only the refs
// there now.

// goneGrace is how long a ref that left the store still serves what it reaches by digest.
const goneGrace = 10 * time.Minute

// maxGone bounds how many refs that left the store are remembered.
const maxGone = 1 << 12

// goneRef is a ref that left the store at a time.
type goneRef struct {
	ref storedRef
	at  time.Time
}

// reachCache holds the view of the store and the walks of its roots.
type reachCache struct {
	mu    sync.Mutex
	stamp os.FileInfo // index.json when view was read
	view  view
	// last is the view read last (kept or not), gone the refs that were in a view read and
	// not in the one read after it, oldest first.
	last  view
	gone  []goneRef
	roots map[v1.Hash]*reachSet
	// reads counts the manifests walks read, for tests.
	reads atomic.Int64
}

// currentView returns the store's refs, read again only when index.json changed.
func (s *Server) currentView() (view, error) {
	c := &s.reach
	fi, err := os.Lstat(filepath.Join(s.store.Dir(), indexFile))
	if err != nil {
		return newView(s.store) // which says what is wrong with index.json
	}
	c.mu.Lock()
	if c.stamp != nil && sameFile(c.stamp, fi) {
		v := c.view
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	// Read after the stat: a change in between leaves a newer view under an older stamp, which
	// the next request's stat sees differ and reads again.
	v, err := newView(s.store)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.noteGoneLocked(v, time.Now())
	if age := time.Since(fi.ModTime()); age < racyWindow && age > -racyWindow {
		return v, nil
	}
	c.stamp, c.view = fi, v
	live := map[v1.Hash]bool{}
	for _, r := range v {
		live[r.desc.Digest] = true
	}
	for h := range c.roots {
		if !live[h] {
			delete(c.roots, h)
		}
	}
	return v, nil
}

// key identifies a ref with what it names.
func (r storedRef) key() string {
	return r.host + "/" + r.path + ":" + r.tag + "@" + r.desc.Digest.String()
}

// noteGoneLocked remembers the refs of the view read before v that v lacks, and forgets those
// gone longer than goneGrace.
func (c *reachCache) noteGoneLocked(v view, now time.Time) {
	if c.last != nil {
		in := make(map[string]bool, len(v))
		for _, r := range v {
			in[r.key()] = true
		}
		for _, r := range c.last {
			if !in[r.key()] {
				c.gone = append(c.gone, goneRef{ref: r, at: now})
			}
		}
	}
	c.last = v
	i := 0
	for i < len(c.gone) && (now.Sub(c.gone[i].at) >= goneGrace || len(c.gone)-i > maxGone) {
		i++
	}
	c.gone = c.gone[i:]
}

// withGone returns repo followed by the refs served under name that left the store less
// than goneGrace ago, latest first: what a pull under way may still ask for by digest.
func (s *Server) withGone(repo view, name string) view {
	c := &s.reach
	now := time.Now()
	var gone view
	c.mu.Lock()
	for i := len(c.gone) - 1; i >= 0; i-- {
		if g := c.gone[i]; now.Sub(g.at) < goneGrace && g.ref.matches(name) {
			gone = append(gone, g.ref)
		}
	}
	c.mu.Unlock()
	if len(gone) == 0 {
		return repo
	}
	out := append(view(nil), repo...)
	for _, r := range gone {
		// One whose manifest was deleted too reaches nothing: skipped, so that a request for
		// it is a plain miss, not a store that cannot read its own manifest.
		if p := s.store.BlobPath(r.desc.Digest); p != "" {
			if _, err := os.Lstat(p); err == nil {
				out = append(out, r)
			}
		}
	}
	return out
}

// sameFile reports whether a and b are one file not changed in between.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// reachOf returns what root reaches, walking it unless a walk before read it whole.
func (s *Server) reachOf(root v1.Descriptor) *reachSet {
	c := &s.reach
	c.mu.Lock()
	rs := c.roots[root.Digest]
	c.mu.Unlock()
	if rs != nil {
		return rs
	}
	rs, complete := s.walk(root)
	if complete {
		c.mu.Lock()
		if c.roots == nil || len(c.roots) >= maxReachRoots {
			c.roots = map[v1.Hash]*reachSet{}
		}
		c.roots[root.Digest] = rs
		c.mu.Unlock()
	}
	return rs
}

// reachedBlob returns the descriptor of blob h as the first of repo's refs that reaches it
// gives it. When none does but a walk could not read a manifest for want of descriptors or
// memory (transient), err says so: h may be there, and a 404 would tell the client it is not.
func (s *Server) reachedBlob(repo view, h v1.Hash) (v1.Descriptor, bool, error) {
	var err error
	for _, r := range repo {
		rs := s.reachOf(r.desc)
		if d, ok := rs.blobs[h]; ok {
			return d, true, nil
		}
		if err == nil {
			err = rs.err
		}
	}
	return v1.Descriptor{}, false, err
}

// reachedManifest is reachedBlob for a manifest or index.
func (s *Server) reachedManifest(repo view, h v1.Hash) (v1.Descriptor, bool, error) {
	var err error
	for _, r := range repo {
		rs := s.reachOf(r.desc)
		if d, ok := rs.manifests[h]; ok {
			return d, true, nil
		}
		if err == nil {
			err = rs.err
		}
	}
	return v1.Descriptor{}, false, err
}

// walk collects every descriptor root reaches: manifests and indexes, configs and layers.
// Unreadable manifests are skipped (a broken image must not hide the others), and make the
// walk incomplete: complete is false when a manifest could not be read from the store.
func (s *Server) walk(root v1.Descriptor) (rs *reachSet, complete bool) {
	rs = &reachSet{blobs: map[v1.Hash]v1.Descriptor{}, manifests: map[v1.Hash]v1.Descriptor{}}
	complete = true
	add := func(d v1.Descriptor) {
		if _, ok := rs.blobs[d.Digest]; !ok {
			rs.blobs[d.Digest] = d
		}
	}
	var visit func(d v1.Descriptor, depth int)
	visit = func(d v1.Descriptor, depth int) {
		if _, ok := rs.manifests[d.Digest]; ok {
			return
		}
		rs.manifests[d.Digest] = d
		add(d)
		// As deep as the store lets indexes nest, and the image manifests below the deepest.
		if depth > cache.MaxIndexDepth+1 {
			return
		}
		s.reach.reads.Add(1)
		raw, err := s.store.ReadBlob(d.Digest, registry.MaxManifestSize)
		if err != nil {
			complete = false
			if rs.err == nil && transient(err) {
				rs.err = err
			}
			return
		}
		var m struct {
			Config    *v1.Descriptor  `json:"config"`
			Layers    []v1.Descriptor `json:"layers"`
			Manifests []v1.Descriptor `json:"manifests"`
		}
		if json.Unmarshal(raw, &m) != nil {
			return // verified content that is not a manifest stays what it is
		}
		for _, c := range m.Manifests {
			visit(c, depth+1)
		}
		if m.Config != nil {
			add(*m.Config)
		}
		for _, l := range m.Layers {
			add(l)
		}
	}
	visit(root, 0)
	return rs, complete
}
