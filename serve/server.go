package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// PullFunc fetches name:reference (a tag) or name@reference (a digest) from an upstream
// registry into the store. It returns an error wrapping registry.ErrNotFound when upstream
// does not have it.
type PullFunc func(ctx context.Context, name, reference string) error

// Options tune a Server. The zero value serves the store as it is.
type Options struct {
	// PullThrough, if set, is called on a manifest miss; the manifest is then looked up
	// again. Concurrent misses of one name and reference share one call.
	PullThrough PullFunc
	// OnPull, if set, is told the outcome of each PullThrough call, for cmd to log.
	OnPull func(name, reference string, err error)
	// OnStoreError, if set, is told why the store could not be read for a request: the
	// client only hears that it could not (storeError), as the reason names the server's
	// files.
	OnStoreError func(err error)
}

// Server is an http.Handler serving a store as a read-only registry. It reads the store's
// index.json again whenever it changes, so images pulled or loaded while it runs are served
// at once.
type Server struct {
	store *cache.Store
	opts  Options
	// flights holds the PullThrough call under way for each manifest missed.
	flights flights
	// pulls holds a token per PullThrough call under way: any client may ask for as many
	// names as it likes, and each distinct one would otherwise start a pull of its own.
	pulls chan struct{}
	// verified remembers the blob files hashed (verify.go).
	verified verifiedFiles
	// reach keeps the store's view and what its refs reach (reach.go).
	reach reachCache
	// stallTimeout is how long a response may go without a byte reaching the client; 0 is
	// defaultStallTimeout.
	stallTimeout time.Duration
	// onFlightWait, if set (by tests), is called when a request starts waiting for another's
	// PullThrough call.
	onFlightWait func(key string)
}

// maxPullsThrough is how many pull-through pulls run at once; further misses wait their turn.
const maxPullsThrough = 4

var _ http.Handler = (*Server)(nil)

// New returns a Server for store.
func New(store *cache.Store, opts Options) *Server {
	return &Server{store: store, opts: opts, pulls: make(chan struct{}, maxPullsThrough)}
}

// ServeHTTP routes the distribution spec's pull endpoints (spec.md#endpoints).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = newStallWriter(w, s.stallTimeout)
	if r.ContentLength != 0 {
		// No request here has a body, and this registry reads none. net/http would read a
		// declared one (up to 256 KiB) before answering, with no deadline: a client that
		// declares a body and never sends it would hold the connection for good. So the
		// read ends at once, and the connection after the answer.
		w.Header().Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, http.StatusMethodNotAllowed, codeUnsupported, "this registry is read-only: "+r.Method+" is not supported")
		return
	}
	p := r.URL.Path
	switch {
	case p == "/v2" || p == "/v2/":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		if r.Method == http.MethodGet {
			w.Write([]byte("{}"))
		}
		return
	case p == "/v2/_catalog":
		s.catalog(w, r)
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		writeError(w, r, http.StatusNotFound, codeUnsupported, "no such endpoint: "+p)
		return
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		if s.checkName(w, r, name) {
			s.tagsList(w, r, name)
		}
		return
	}
	// The reference (a tag or a digest, neither holding a slash) is the last element and the
	// endpoint's word the one before it: a name may have "manifests" or "blobs" as elements
	// of its own ("x/manifests/y"), as docker's registry allows, so the word is not searched
	// for in the whole path.
	if name, kind, ref, ok := splitEndpoint(rest); ok {
		switch {
		case kind == "manifests":
			if s.checkName(w, r, name) {
				s.manifest(w, r, name, ref)
			}
			return
		case kind == "blobs":
			if s.checkName(w, r, name) {
				s.blob(w, r, name, ref)
			}
			return
		case kind == "uploads" && strings.HasSuffix(name, "/blobs"):
			// /v2/<name>/blobs/uploads/ and /v2/<name>/blobs/uploads/<uuid>.
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, r, http.StatusMethodNotAllowed, codeUnsupported, "this registry is read-only: uploads are not supported")
			return
		}
	}
	// A reference with a slash in it ("manifests/../secret"): the tag or digest is invalid.
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		if s.checkName(w, r, rest[:i]) {
			s.manifest(w, r, rest[:i], rest[i+len("/manifests/"):])
		}
		return
	}
	if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		if s.checkName(w, r, rest[:i]) {
			s.blob(w, r, rest[:i], rest[i+len("/blobs/"):])
		}
		return
	}
	writeError(w, r, http.StatusNotFound, codeUnsupported, "no such endpoint: "+p)
}

// splitEndpoint splits "NAME/KIND/REF", the path after /v2/, at its last two slashes.
func splitEndpoint(rest string) (name, kind, ref string, ok bool) {
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", "", false
	}
	head, ref := rest[:i], rest[i+1:]
	j := strings.LastIndexByte(head, '/')
	if j <= 0 {
		return "", "", "", false
	}
	return head[:j], head[j+1:], ref, true
}

func (s *Server) checkName(w http.ResponseWriter, r *http.Request, name string) bool {
	if len(name) > maxNameLen {
		writeError(w, r, http.StatusNotFound, codeNameInvalid, fmt.Sprintf("invalid repository name: longer than %d characters", maxNameLen))
		return false
	}
	if !nameRE().MatchString(name) {
		writeError(w, r, http.StatusNotFound, codeNameInvalid, "invalid repository name "+strconv.Quote(name))
		return false
	}
	return true
}

func (s *Server) view(w http.ResponseWriter, r *http.Request) (view, bool) {
	v, err := s.currentView()
	if err != nil {
		s.storeError(w, r, http.StatusInternalServerError, codeUnknown, "the registry could not read its store", err)
		return nil, false
	}
	return v, true
}

// isLocalFileError reports whether err comes from a file system call (a *fs.PathError or
// *os.LinkError, whose text names the server's paths).
func isLocalFileError(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	return errors.As(err, &pe) || errors.As(err, &le)
}

// storeError answers status, code and msg to a request the store could not serve, and tells
// OnStoreError why: the reason (an error of the file system, with the store's paths in it) is
// the server's to read, not every client's.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, status int, code, msg string, err error) {
	if s.opts.OnStoreError != nil {
		s.opts.OnStoreError(fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err))
	}
	writeError(w, r, status, code, msg)
}

// manifest serves GET/HEAD /v2/<name>/manifests/<reference>.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	byDigest := strings.Contains(ref, ":")
	if byDigest {
		if _, err := v1.NewHash(ref); err != nil {
			writeError(w, r, http.StatusBadRequest, codeDigestInvalid, "invalid digest "+strconv.Quote(ref))
			return
		}
	} else if !tagRE().MatchString(ref) {
		writeError(w, r, http.StatusBadRequest, codeTagInvalid, "invalid tag "+strconv.Quote(ref))
		return
	}
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	repo := v.repo(name)
	// By digest, what refs that just left the name reached is still served (reach.go).
	reach := func(repo view) view {
		if byDigest {
			return s.withGone(repo, name)
		}
		return repo
	}
	desc, raw, found, err := s.lookup(reach(repo), ref, byDigest)
	if transient(err) {
		// The manifest is there, the server is short of descriptors or memory: a 404 said
		// "manifest unknown", which clients take as final, and a pull-through fetched it again.
		s.storeError(w, r, http.StatusInternalServerError, codeUnknown, "manifest "+refString(name, ref)+" could not be read from the store", err)
		return
	}
	// A manifest missing from the store, or there but unreadable (damaged on disk, which
	// ReadBlob then removed), is pulled again: upstream has it whole, and the store writes it
	// as it writes every blob, verified in a temp file and renamed in place.
	if (!found || err != nil) && s.opts.PullThrough != nil {
		if err := s.pull(r.Context(), name, ref, byDigest); err != nil {
			switch {
			case errors.Is(err, registry.ErrNotFound):
				writeError(w, r, http.StatusNotFound, codeManifestUnknown, err.Error())
			case errors.Is(err, registry.ErrInvalidReference):
				// A name upstream cannot have (Docker Hub's "library/" before it makes more
				// than the 255 characters a path may have): the client's error, not the
				// upstream's, which a 5xx would have it retry.
				writeError(w, r, http.StatusNotFound, codeNameInvalid, err.Error())
			case isLocalFileError(err):
				// The store's own file system failed (a full disk): OnPull has the reason.
				writeError(w, r, http.StatusInternalServerError, codeUnknown, "the registry could not store "+refString(name, ref))
			default:
				writeError(w, r, http.StatusBadGateway, codeUnknown, err.Error())
			}
			return
		}
		if v, ok = s.view(w, r); !ok {
			return
		}
		repo = v.repo(name)
		desc, raw, found, err = s.lookup(reach(repo), ref, byDigest)
	}
	if !found {
		if len(repo) == 0 {
			writeError(w, r, http.StatusNotFound, codeNameUnknown, "repository "+name+" is not in the store")
		} else {
			writeError(w, r, http.StatusNotFound, codeManifestUnknown, "manifest "+refString(name, ref)+" is not in the store")
		}
		return
	}
	if err != nil {
		s.storeError(w, r, http.StatusNotFound, codeManifestUnknown, "manifest "+refString(name, ref)+" could not be read from the store", err)
		return
	}
	mt := desc.MediaType
	if mt == "" {
		mt = mediaTypeOf(raw)
	}
	if mt == types.DockerManifestList && !byDigest && !acceptsList(r) {
		// A client that lists manifest types but not manifest lists (an old one, or a script
		// asking for a schema 2 manifest to read its config) gets the linux/amd64 image, as
		// docker's registry and Docker Hub answer a tag; by digest it gets what the digest
		// names.
		var ok bool
		if desc, raw, mt, ok = s.defaultPlatform(w, r, name, ref, raw); !ok {
			return
		}
	}
	if !accepts(r, mt) {
		writeError(w, r, http.StatusNotFound, codeManifestUnknown, "manifest "+refString(name, ref)+" is a "+string(mt)+", which the request's Accept header does not list")
		return
	}
	h := w.Header()
	h.Set("Content-Type", string(mt))
	h.Set("Docker-Content-Digest", desc.Digest.String())
	h.Set("Etag", `"`+desc.Digest.String()+`"`)
	// ServeContent answers If-None-Match with the ETag (304, as docker's registry does),
	// Range, and HEAD with the headers of the GET and no body.
	http.ServeContent(w, withSatisfiableRanges(r, int64(len(raw))), "", time.Time{}, bytes.NewReader(raw))
}

// refString is name with its tag or digest, as a reference writes them: "alpine:3.20",
// "alpine@sha256:…".
func refString(name, ref string) string {
	if strings.Contains(ref, ":") {
		return name + "@" + ref
	}
	return name + ":" + ref
}

// lookup finds the manifest ref names in repo (by tag, or by digest among the tagged
// manifests and the manifests of tagged indexes) and reads it from the store. found says
// whether repo names it; err, that the store cannot give it (its blob missing or damaged). Of
// the refs with one tag, the first whose manifest reads wins: a broken image does not hide
// another registry's under the same path.
func (s *Server) lookup(repo view, ref string, byDigest bool) (desc v1.Descriptor, raw []byte, found bool, err error) {
	read := func(d v1.Descriptor) ([]byte, error) {
		return s.store.ReadBlob(d.Digest, registry.MaxManifestSize)
	}
	if byDigest {
		h, herr := v1.NewHash(ref)
		if herr != nil {
			return v1.Descriptor{}, nil, false, nil
		}
		desc, found, err = s.reachedManifest(repo, h)
		if !found {
			return desc, nil, false, err
		}
		raw, err = read(desc)
		return desc, raw, true, err
	}
	for _, r := range repo {
		if r.tag != ref {
			continue
		}
		b, rerr := read(r.desc)
		if rerr == nil {
			return r.desc, b, true, nil
		}
		if !found {
			desc, found, err = r.desc, true, rerr
		}
	}
	return desc, nil, found, err
}

// pull runs PullThrough once for concurrent misses of the same manifest: a request that
// misses it while another's call is under way waits for that call and answers with its
// outcome, a failure as much as a success. Waiting for the lock and then calling again made
// a burst of requests for a manifest upstream lacks (or cannot serve) one upstream pull each,
// one after another, the last client waiting for them all. A call that ended because its
// own client left is no outcome: those waiting make a call of their own.
func (s *Server) pull(ctx context.Context, name, ref string, byDigest bool) error {
	key := name + ":" + ref
	for {
		f, leader := s.flights.join(key)
		if leader {
			return s.lead(ctx, key, f, name, ref, byDigest)
		}
		if s.onFlightWait != nil {
			s.onFlightWait(key)
		}
		select {
		case <-f.done:
			if !f.abandoned {
				return f.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lead makes the call of flight f and lands it with its outcome, even when the call panics
// (net/http keeps the server up): a flight never landed would hold every later request for
// its manifest until that client gave up.
func (s *Server) lead(ctx context.Context, key string, f *flight, name, ref string, byDigest bool) (err error) {
	abandoned := true // a call that panicked has no outcome either
	defer func() { s.flights.land(key, f, err, abandoned) }()
	err = s.pullOnce(ctx, name, ref, byDigest)
	abandoned = err != nil && ctx.Err() != nil
	return err
}

// pullOnce calls PullThrough for name and ref, unless the store has the manifest by now, when
// a token of s.pulls is free.
func (s *Server) pullOnce(ctx context.Context, name, ref string, byDigest bool) error {
	// Another request's call may have stored it since this one looked.
	if v, err := s.currentView(); err == nil {
		if _, _, found, err := s.lookup(v.repo(name), ref, byDigest); found && err == nil {
			return nil
		}
	}
	select {
	case s.pulls <- struct{}{}:
		defer func() { <-s.pulls }()
	case <-ctx.Done():
		return ctx.Err()
	}
	err := s.opts.PullThrough(ctx, name, ref)
	if s.opts.OnPull != nil {
		s.opts.OnPull(name, ref, err)
	}
	return err
}

// flights are the PullThrough calls under way, by manifest.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one PullThrough call, shared by the requests that missed its manifest meanwhile.
type flight struct {
	done chan struct{} // closed when the call ended
	err  error
	// abandoned says the call ended because the request that made it left.
	abandoned bool
}

// join returns the flight under way for key, or a new one that the caller (leader) makes.
func (fl *flights) join(key string) (f *flight, leader bool) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if f := fl.m[key]; f != nil {
		return f, false
	}
	if fl.m == nil {
		fl.m = map[string]*flight{}
	}
	f = &flight{done: make(chan struct{})}
	fl.m[key] = f
	return f, true
}

// land ends the flight f of key with its outcome.
func (fl *flights) land(key string, f *flight, err error, abandoned bool) {
	fl.mu.Lock()
	delete(fl.m, key)
	fl.mu.Unlock()
	f.err, f.abandoned = err, abandoned
	close(f.done)
}

// blob serves GET/HEAD /v2/<name>/blobs/<digest>, with Range, from the blob file.
func (s *Server) blob(w http.ResponseWriter, r *http.Request, name, dgst string) {
	if dgst == "uploads" {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, http.StatusMethodNotAllowed, codeUnsupported, "this registry is read-only: uploads are not supported")
		return
	}
	h, err := v1.NewHash(dgst)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeDigestInvalid, "invalid digest "+strconv.Quote(dgst))
		return
	}
	if s.store.BlobPath(h) == "" {
		// A well-formed digest of another algorithm (sha512) the store never holds: missing, as
		// docker's registry answers it, and as a manifest by such a digest is.
		writeError(w, r, http.StatusNotFound, codeBlobUnknown, "blob "+dgst+" is not in "+name)
		return
	}
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	// What refs that just left the name reached is still served (reach.go).
	repo := s.withGone(v.repo(name), name)
	if len(repo) == 0 {
		writeError(w, r, http.StatusNotFound, codeNameUnknown, "repository "+name+" is not in the store")
		return
	}
	want, used, err := s.reachedBlob(repo, h)
	if !used && err != nil {
		s.storeError(w, r, http.StatusInternalServerError, codeUnknown, "blob "+h.String()+" could not be read from the store", err)
		return
	}
	if !used {
		writeError(w, r, http.StatusNotFound, codeBlobUnknown, "blob "+dgst+" is not in "+name)
		return
	}
	f, err := openBlobFile(s.store.BlobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, r, http.StatusNotFound, codeBlobUnknown, "blob "+dgst+" is not in the store")
		return
	}
	if transient(err) {
		s.storeError(w, r, http.StatusInternalServerError, codeUnknown, "blob "+h.String()+" could not be read from the store", err)
		return
	}
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, codeUnknown, "blob "+dgst+" is damaged in the store; pull the image again")
		return
	}
	defer f.Close()
	// A blob file of another size than its descriptor's was damaged on disk: serving it would
	// hand clients bytes that fail their digest check, or a range of the wrong bytes.
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != want.Size {
		writeError(w, r, http.StatusInternalServerError, codeUnknown, "blob "+dgst+" is damaged in the store; pull the image again")
		return
	}
	var content io.ReadSeeker = f
	var streaming *verifyingFile
	if !s.verified.has(h, fi) {
		// Content of the right size may still be the wrong bytes (see verify.go). A full GET
		// hashes as it streams; a ranged GET and a HEAD hash the file before they answer, so
		// that a HEAD says what the GET would.
		err := s.verified.damaged(h, fi)
		if err == nil && r.Method == http.MethodGet && r.Header.Get("Range") == "" && fi.Size() > 0 {
			streaming = newVerifyingFile(f, h, fi.Size())
			content = streaming
		} else if err == nil {
			err = s.verified.check(f, h, fi)
		}
		if err != nil {
			s.storeError(w, r, http.StatusInternalServerError, codeUnknown, "blob "+h.String()+" could not be read from the store", err)
			return
		}
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Docker-Content-Digest", h.String())
	hd.Set("Etag", `"`+h.String()+`"`)
	// A blob never changes under its digest.
	hd.Set("Cache-Control", "max-age=31536000")
	http.ServeContent(w, withSatisfiableRanges(r, fi.Size()), "", time.Time{}, content)
	if streaming != nil {
		if streaming.ok {
			s.verified.add(h, fi, true)
		} else if errors.Is(streaming.err, errDamaged) {
			s.verified.add(h, fi, false)
		}
		if !streaming.ok && streaming.n > 0 {
			// Part of the body is out, with a Content-Length promising more: break the
			// connection off, so no client mistakes what it got for the blob.
			panic(http.ErrAbortHandler)
		}
	}
}

// withSatisfiableRanges returns r with the suffix ranges of its Range header that select no
// byte ("bytes=-0", or any "-N" of empty content), which RFC 9110 (14.1.1) has unsatisfiable,
// written as ranges that start at the end, which http.ServeContent knows to be. It parsed
// them as ranges of length 0 and answered "bytes=-0" 206 with no body and Content-Range
// "bytes N-(N-1)/N", a range ending before it starts, and "bytes=0-1,-0" with that range as
// a part of its multipart answer: now the first is 416 with "bytes */N", as any range past
// the end is, and the second 206 with bytes 0-1 alone. Any other header is left as it is.
func withSatisfiableRanges(r *http.Request, size int64) *http.Request {
	h := r.Header.Get("Range")
	specs, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return r
	}
	parts := strings.Split(specs, ",")
	changed := false
	for i, p := range parts {
		start, end, ok := strings.Cut(strings.Trim(p, " \t"), "-")
		if !ok || strings.Trim(start, " \t") != "" {
			continue
		}
		end = strings.Trim(end, " \t")
		if end == "" || end[0] == '-' {
			continue // invalid, as ServeContent answers it
		}
		if n, err := strconv.ParseInt(end, 10, 64); err == nil && n >= 0 && (n == 0 || size == 0) {
			parts[i] = strconv.FormatInt(size, 10) + "-"
			changed = true
		}
	}
	if !changed {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Range", "bytes="+strings.Join(parts, ","))
	return r2
}

// transient reports whether err is the server's want of a resource, not the store's damage:
// out of file descriptors (a burst of clients, each holding a connection), of memory, or an
// I/O error. The blob or manifest is answered with a 500, which clients retry, and not as
// missing (404) or damaged ("pull the image again"), which they and their users take as final.
func transient(err error) bool {
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.ENOMEM, unix.ENOBUFS, unix.EIO, unix.EAGAIN, unix.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// openBlobFile opens a blob file for serving. O_NONBLOCK: a FIFO put at a blob's path would
// otherwise hang open(2), and a client may repeat the request until descriptors run out.
// O_NOFOLLOW: the store never links blobs, and a symlink there would serve (all but the end
// of) whatever file it points to, to the network. The caller checks that it is a regular file.
func openBlobFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
}

// tagsList serves /v2/<name>/tags/list with n and last.
func (s *Server) tagsList(w http.ResponseWriter, r *http.Request, name string) {
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	repo := v.repo(name)
	if len(repo) == 0 {
		writeError(w, r, http.StatusNotFound, codeNameUnknown, "repository "+name+" is not in the store")
		return
	}
	page, ok := s.page(w, r, repo.tags(), "/v2/"+name+"/tags/list")
	if !ok {
		return
	}
	writeJSON(w, r, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, page})
}

// catalog serves /v2/_catalog with n and last.
func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	v, ok := s.view(w, r)
	if !ok {
		return
	}
	page, ok := s.page(w, r, v.names(), "/v2/_catalog")
	if !ok {
		return
	}
	writeJSON(w, r, struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// page applies the request's n and last to items, and sets the Link header to the next page.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []string, path string) ([]string, bool) {
	q := r.URL.Query()
	n := -1
	if ns := q.Get("n"); ns != "" {
		var err error
		n, err = strconv.Atoi(ns)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, codePaginationInv, "invalid n "+strconv.Quote(ns))
			return nil, false
		}
	}
	page, more := paginate(items, q.Get("last"), n)
	if more && len(page) > 0 {
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {page[len(page)-1]}}
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, next.Encode()))
	}
	return page, true
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, codeUnknown, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(b)
	}
}

// manifestTypes are the media types a client lists in Accept to say which manifests it reads.
var manifestTypes = map[string]bool{
	string(types.OCIManifestSchema1):          true,
	string(types.OCIImageIndex):               true,
	string(types.DockerManifestSchema2):       true,
	string(types.DockerManifestList):          true,
	string(types.DockerManifestSchema1):       true,
	string(types.DockerManifestSchema1Signed): true,
}

// defaultPlatform returns the linux/amd64 manifest of the Docker manifest list raw (name:ref),
// for a client that does not read manifest lists, as docker's registry rewrites it
// (registry/handlers/manifests.go: defaultArch, defaultOS), or answers the request itself and
// returns false.
func (s *Server) defaultPlatform(w http.ResponseWriter, r *http.Request, name, ref string, raw []byte) (v1.Descriptor, []byte, types.MediaType, bool) {
	var list struct {
		Manifests []v1.Descriptor `json:"manifests"`
	}
	json.Unmarshal(raw, &list)
	for _, d := range list.Manifests {
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != "amd64" {
			continue
		}
		b, err := s.store.ReadBlob(d.Digest, registry.MaxManifestSize)
		if err != nil {
			status := http.StatusNotFound
			code := codeManifestUnknown
			if transient(err) {
				status, code = http.StatusInternalServerError, codeUnknown
			}
			s.storeError(w, r, status, code, "manifest "+name+"@"+d.Digest.String()+" could not be read from the store", err)
			return v1.Descriptor{}, nil, "", false
		}
		mt := d.MediaType
		if mt == "" {
			mt = mediaTypeOf(b)
		}
		if mt == types.DockerManifestSchema2 && !acceptsType(r, mt) {
			writeError(w, r, http.StatusBadRequest, codeManifestInvalid, "manifest "+refString(name, ref)+" is a manifest list of schema 2 manifests, neither of which the request's Accept header lists")
			return v1.Descriptor{}, nil, "", false
		}
		return d, b, mt, true
	}
	writeError(w, r, http.StatusNotFound, codeManifestUnknown, "manifest "+refString(name, ref)+" is a manifest list with no linux/amd64 image, and the request's Accept header does not list manifest lists")
	return v1.Descriptor{}, nil, "", false
}

// acceptedTypes reads the request's Accept headers: the manifest types they list, and whether
// they accept any manifest (no Accept header, none that names a manifest type, or a wildcard).
func acceptedTypes(r *http.Request) (listed map[string]bool, any bool) {
	listed = map[string]bool{}
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			t, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			switch {
			case err != nil:
			case t == "*/*", t == "application/*":
				any = true
			case manifestTypes[t]:
				listed[t] = true
			}
		}
	}
	return listed, any || len(listed) == 0
}

// acceptsType reports whether the request's Accept headers allow a manifest of type mt.
func acceptsType(r *http.Request, mt types.MediaType) bool {
	listed, any := acceptedTypes(r)
	return any || listed[string(mt)]
}

// acceptsList reports whether the request's Accept headers allow a Docker manifest list.
func acceptsList(r *http.Request) bool { return acceptsType(r, types.DockerManifestList) }

// accepts reports whether the request's Accept headers allow a manifest of type mt. A client
// that lists manifest types reads only those: docker's registry answers MANIFEST_UNKNOWN for an
// OCI index or manifest not listed (registry/handlers/manifests.go), where an old client would
// otherwise fail to parse what it got; a Docker manifest it serves whatever the list, and so
// does this. No Accept header, none that names a manifest type, or a wildcard accepts
// anything, as curl and most clients expect.
func accepts(r *http.Request, mt types.MediaType) bool {
	if mt != types.OCIManifestSchema1 && mt != types.OCIImageIndex {
		return true
	}
	return acceptsType(r, mt)
}

// mediaTypeOf reads the mediaType a manifest declares; an OCI manifest may leave it out.
func mediaTypeOf(raw []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType  `json:"mediaType"`
		Manifests *json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(raw, &m) == nil && m.MediaType != "" {
		return m.MediaType
	}
	if m.Manifests != nil {
		return types.OCIImageIndex
	}
	return types.OCIManifestSchema1
}

// keyedMutex serializes work per key: one hash of a blob file at a time.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

// keyLock is held by whoever holds a token of ch; waiters counts those holding or waiting.
type keyLock struct {
	ch      chan struct{}
	waiters int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	unlock, _ = k.lockCtx(context.Background(), key)
	return unlock
}

// lockCtx is lock that gives up when ctx ends: a client that leaves while another's pull of
// the same manifest runs does not keep its handler waiting for it.
func (k *keyedMutex) lockCtx(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.waiters++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		if l.waiters--; l.waiters == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
