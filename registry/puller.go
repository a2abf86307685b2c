package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/manifestkind"
	"github.com/strata-run/strata/internal/platforms"
)

// Puller resolves references and fetches manifests and blobs for one command. It keeps one
// authenticated transport per registry and repository, so the token handshake happens once per
// command, not once per request (the role of go-containerregistry's remote.Puller and
// remote.Reuse). A Puller is safe for concurrent use.
type Puller struct {
	opts     Options
	cfg      *Config
	mirrors  []mirror
	keychain authn.Keychain
	platform v1.Platform
	secure   http.RoundTripper
	insecRT  http.RoundTripper

	mu       sync.Mutex
	sessions map[sessionKey]*session
}

// NewPuller checks opts (mirror URLs, the registries config file) and returns a Puller.
// It does no network I/O.
func NewPuller(opts Options) (*Puller, error) {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	p := &Puller{opts: opts, cfg: cfg, keychain: opts.Keychain, platform: opts.Platform, sessions: map[sessionKey]*session{}}
	for _, m := range opts.Mirrors {
		pm, err := parseMirror(m)
		if err != nil {
			return nil, fmt.Errorf("registry mirror: %w", err)
		}
		p.mirrors = append(p.mirrors, pm)
	}
	if p.keychain == nil {
		p.keychain = &dockerKeychain{warn: opts.Warn}
	}
	// A partial platform ("--platform arm64" style callers) is completed from the default.
	def := DefaultPlatform()
	if p.platform.OS == "" {
		p.platform.OS = def.OS
	}
	if p.platform.Architecture == "" {
		p.platform.Architecture = def.Architecture
	}
	policy := defaultRetry
	if opts.retry != nil {
		policy = *opts.retry
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "strata"
	}
	d := newDialer(opts.net)
	p.secure = baseTransport(false, ua, policy, d, opts.Warn)
	p.insecRT = baseTransport(true, ua, policy, d, opts.Warn)
	return p, nil
}

// Image is an image resolved for one platform. Its blobs are fetched lazily, through the
// Puller's authenticated transport, when a layer is read or FetchBlob is called.
type Image struct {
	v1.Image
	// Ref is the reference that was resolved.
	Ref Reference
	// Descriptor is the platform manifest's; its Digest is what `Digest:` prints and what a
	// pull by digest of this image names.
	Descriptor v1.Descriptor
	// Root is the descriptor the reference pointed at: the index when there was one, else
	// the same as Descriptor. Compare it with Head's result to tell whether a tag moved.
	Root v1.Descriptor
	// Source is the registry host the image came from: a mirror's host or the reference's
	// own registry ("docker.io").
	Source string

	sess *session
	// up are the endpoints asked for a blob the mirror that served the image lacks.
	up upstreams
	// sizes holds the size of every blob the manifest names, read once: go-containerregistry
	// parses the manifest again on each Manifest call, and a manifest of 20,000 layers made
	// each blob fetch parse its 3 MB anew.
	sizes map[v1.Hash]int64
}

// Image resolves ref: an index is narrowed to the Puller's platform (a *PlatformError listing
// what the index offers when none matches); schema 1, manifests over MaxManifestSize, media
// types other than OCI or Docker image manifests and indexes, and manifests that Go would
// read other than as written (see strict.go) are refused. Mirrors are tried in order, then
// the registry itself, whose error is returned if all fail.
func (p *Puller) Image(ctx context.Context, ref Reference) (*Image, error) {
	var err error
	for _, ep := range p.endpoints(ref.domain) {
		var img *Image
		img, err = p.imageFrom(ctx, ref, ep)
		if err == nil {
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// Head returns the descriptor ref points at (an index or a manifest) with one HEAD request,
// so a pull of an image that is already present costs one round trip. Registries that answer
// HEAD without the digest header, or refuse it, get a GET instead (see headFinal).
func (p *Puller) Head(ctx context.Context, ref Reference) (v1.Descriptor, error) {
	var err error
	for _, ep := range p.endpoints(ref.domain) {
		var d v1.Descriptor
		d, err = p.headFrom(ctx, ref, ep)
		if err == nil {
			return d, nil
		}
		if ctx.Err() != nil {
			return v1.Descriptor{}, err
		}
	}
	return v1.Descriptor{}, err
}

func (p *Puller) headFrom(ctx context.Context, ref Reference, ep endpoint) (v1.Descriptor, error) {
	s, rref, err := p.open(ctx, ref, ep, transport.PullScope)
	if err != nil {
		return v1.Descriptor{}, err
	}
	what := "manifest for " + ref.String()
	d, err := remote.Head(rref, s.options(ctx)...)
	if err == nil {
		return *d, nil
	}
	if c := classify(err, opPull, what, ref.Name(), ep.host); headFinal(ctx, c) {
		return v1.Descriptor{}, c
	}
	desc, err := remoteGet(ctx, s, rref)
	if err != nil {
		return v1.Descriptor{}, classify(err, opPull, what, ref.Name(), ep.host)
	}
	return desc.Descriptor, nil
}

// headFinal reports whether a failed HEAD already says enough, so a GET would not help: the
// registry could not be reached (a GET would wait out the same stall), it keeps answering 429
// (a GET would count against the limit too), or the pull was interrupted. Any other answer
// gets a GET, as docker's distribution client gives one on any HEAD error: registries and
// proxies answer a HEAD of a manifest they serve with 404 (Nexus, Harbor's proxy cache) or 403
// (registry.centos.org). Taken as final, a 404 or a 403 to the HEAD failed every pull of a
// tag after the first ("manifest … not found", "pull access denied"), the first, which made
// no HEAD, having worked. A tag that is really gone is said so by the GET.
func headFinal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTooManyRequests)
}

func (p *Puller) imageFrom(ctx context.Context, ref Reference, ep endpoint) (*Image, error) {
	s, rref, err := p.open(ctx, ref, ep, transport.PullScope)
	if err != nil {
		return nil, err
	}
	what := "manifest for " + ref.String()
	desc, err := remoteGet(ctx, s, rref)
	if err != nil {
		return nil, classify(err, opPull, what, ref.Name(), ep.host)
	}
	if err := checkManifest(desc.Manifest, what, ep.host); err != nil {
		return nil, err
	}
	root := desc.Descriptor
	mt, err := manifestType(desc.MediaType, desc.Manifest)
	if err != nil {
		return nil, refused(err, ref, ep.host)
	}
	desc.MediaType, root.MediaType = mt, mt
	rootIsIndex := mt.IsIndex()
	if rootIsIndex {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, unparsable(ep.host, fmt.Sprintf("parsing index of %s from %s", ref, ep.host), err)
		}
		crepo := rref.Context()
		child, err := matchPlatform(ref.String(), idx.Manifests, p.platform)
		var read *remote.Descriptor
		if err != nil {
			if child, read, err = p.unlabelled(ctx, s, crepo, ref, ep.host, idx.Manifests, err); err != nil {
				return nil, err
			}
		}
		if read != nil {
			// unlabelled read it by digest, which remote.Get checks: not asked for again.
			desc = read
		} else if desc, err = remoteGet(ctx, s, crepo.Digest(child.Digest.String())); err != nil {
			return nil, classify(err, opPull, fmt.Sprintf("manifest %s of %s", child.Digest, ref), ref.Name(), ep.host)
		}
		if err := sizeListed(desc.Manifest, child, ref, ep.host); err != nil {
			return nil, err
		}
		if err := checkManifest(desc.Manifest, fmt.Sprintf("manifest %s of %s", child.Digest, ref), ep.host); err != nil {
			return nil, err
		}
		mt, err = manifestType(desc.MediaType, desc.Manifest)
		if err == nil && mt.IsIndex() {
			err = fmt.Errorf("%w: an index inside an index", ErrUnsupportedMediaType)
		}
		if err != nil {
			return nil, refused(err, ref, ep.host)
		}
		desc.MediaType = mt
		desc.Descriptor.Platform = child.Platform
	}
	img, err := desc.Image()
	if err != nil {
		return nil, unparsable(ep.host, fmt.Sprintf("reading manifest of %s from %s", ref, ep.host), err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, unparsable(ep.host, fmt.Sprintf("parsing manifest of %s from %s", ref, ep.host), err)
	}
	if err := digestsGiven(m); err != nil {
		return nil, unparsable(ep.host, fmt.Sprintf("manifest of %s from %s", ref, ep.host), err)
	}
	if err := configSize(m.Config, ref, fmt.Sprintf("manifest of %s from %s", ref, ep.host), ep.host); err != nil {
		return nil, err
	}
	if err := imageTypes(m); err != nil {
		return nil, refused(err, ref, ep.host)
	}
	res := &Image{Image: img, Ref: ref, Descriptor: desc.Descriptor, Root: root, Source: ep.host, sess: s,
		up: p.after(ref.domain, ep), sizes: map[v1.Hash]int64{}}
	// The first listing of a digest wins, as the store keeps it.
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if _, ok := res.sizes[d.Digest]; !ok {
			res.sizes[d.Digest] = d.Size
		}
	}
	if !rootIsIndex && root.Platform == nil {
		// Without an index only the config says the platform; it is reported, not enforced
		// (Docker too pulls a single-platform image as is), so cmd can warn on a mismatch.
		// A config that cannot be read fails here, as the pull would: go-containerregistry
		// would keep what it read of it and hand that out, unverified, from the next call.
		raw, err := res.RawConfigFile()
		if err != nil {
			return nil, err
		}
		if err := checkValues(raw, fmt.Sprintf("config %s of %s", m.Config.Digest, ref), ep.host); err != nil {
			return nil, err
		}
		if cf, err := v1.ParseConfigFile(bytes.NewReader(raw)); err == nil && cf.OS != "" {
			pl := cf.Platform()
			res.Root.Platform = pl
			res.Descriptor.Platform = pl
		}
	}
	return res, nil
}

// unreachable returns err, a failed read of what during unlabelled's search, worded, when it
// says the registry could not be reached or stalled: the next entry would wait out the same
// stall (a minute, tried twice, for its manifest and again for its config), so the search
// stops there. It held a pull a quarter of an hour for maxUnlabelled entries. nil otherwise:
// the entry is passed over.
func unreachable(err error, what string, ref Reference, host string) error {
	if err == nil {
		return nil
	}
	if c := classify(err, opPull, what, ref.Name(), host); errors.Is(c, ErrUnreachable) {
		return c
	}
	return nil
}

// maxUnlabelled bounds the entries naming no platform that unlabelled reads.
const maxUnlabelled = 4

// unlabelled picks, when no entry of an index names the wanted platform, the first entry that
// names none (an image manifest, or of no media type) whose config says that platform, as
// docker and containerd take such entries after those that name theirs; strata refused the
// index ("no matching manifest … (available: none)"). Up to maxUnlabelled entries are read,
// each checked as any manifest and config is; one that cannot be read or is no image is passed
// over. noMatch, the PlatformError, is returned when none matches. The entry is returned with
// its config's platform, and its manifest as read (by digest, which remote.Get checks), for
// imageFrom not to ask for it again. Interrupted, it fails as every pull step does, "pulling
// REF: interrupted: …", not with the bare context error.
func (p *Puller) unlabelled(ctx context.Context, s *session, repo name.Repository, ref Reference, host string, manifests []v1.Descriptor, noMatch error) (v1.Descriptor, *remote.Descriptor, error) {
	interrupted := func() error {
		return fmt.Errorf("pulling %s: interrupted: %w", ref.Familiar(), context.Cause(ctx))
	}
	tried := 0
	for _, m := range manifests {
		if m.Platform != nil || !(m.MediaType == "" || m.MediaType.IsImage()) {
			continue
		}
		if tried++; tried > maxUnlabelled {
			break
		}
		desc, err := remoteGet(ctx, s, repo.Digest(m.Digest.String()))
		if ctx.Err() != nil {
			return v1.Descriptor{}, nil, interrupted()
		}
		if c := unreachable(err, "manifest "+m.Digest.String()+" of "+ref.String(), ref, host); c != nil {
			return v1.Descriptor{}, nil, c
		}
		if err != nil || sizeListed(desc.Manifest, m, ref, host) != nil || checkManifest(desc.Manifest, "manifest "+m.Digest.String(), host) != nil {
			continue
		}
		mt, err := manifestType(desc.MediaType, desc.Manifest)
		if err != nil || !mt.IsImage() {
			continue
		}
		desc.MediaType = mt
		img, err := desc.Image()
		if err != nil {
			continue
		}
		mf, err := img.Manifest()
		if err != nil || digestsGiven(mf) != nil || mf.Config.Size < minConfigSize || mf.Config.Size > MaxConfigSize {
			continue
		}
		raw, err := img.RawConfigFile()
		if c := unreachable(err, "config "+mf.Config.Digest.String()+" of "+ref.String(), ref, host); c != nil && ctx.Err() == nil {
			return v1.Descriptor{}, nil, c
		}
		if err != nil || int64(len(raw)) != mf.Config.Size || !hashes(raw, mf.Config.Digest) ||
			checkValues(raw, "config "+mf.Config.Digest.String(), host) != nil {
			continue
		}
		cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
		if err != nil || cf.OS == "" {
			continue
		}
		if pl := cf.Platform(); pl != nil && platforms.Matches(p.platform, *pl) {
			m.Platform = pl
			return m, desc, nil
		}
	}
	if ctx.Err() != nil {
		// Cut off in a config's read, which passed the entry over.
		return v1.Descriptor{}, nil, interrupted()
	}
	return v1.Descriptor{}, nil, noMatch
}

// sizeListed refuses a manifest whose bytes (raw, already checked against the digest) are not
// as many as its index entry d says: the index lies, and the image-spec says content of
// another length than its descriptor's "SHOULD NOT be trusted". containerd refuses it, and
// so did `pull --all-platforms`, which stores the index; a plain pull took the manifest, and
// the same index pulled or not depending on a flag.
func sizeListed(raw []byte, d v1.Descriptor, ref Reference, host string) error {
	if int64(len(raw)) == d.Size {
		return nil
	}
	return &Error{Registry: host, Msg: fmt.Sprintf("manifest %s of %s from %s is %d bytes, but its index gives %d",
		d.Digest, ref, host, len(raw), d.Size)}
}

// manifestType returns the media type of a manifest, from the Content-Type the registry sent
// or, when that is missing or generic, from the manifest itself.
func manifestType(header types.MediaType, body []byte) (types.MediaType, error) {
	base, _, _ := strings.Cut(string(header), ";")
	mt := types.MediaType(strings.TrimSpace(base))
	if generic(mt) {
		var probe struct {
			SchemaVersion int             `json:"schemaVersion"`
			MediaType     types.MediaType `json:"mediaType"`
			Manifests     json.RawMessage `json:"manifests"`
		}
		if err := json.Unmarshal(body, &probe); err != nil {
			return "", fmt.Errorf("%w: %q, and the body is not JSON", ErrUnsupportedMediaType, oneLine(string(header)))
		}
		switch {
		case probe.SchemaVersion == 1:
			mt = types.DockerManifestSchema1
		case probe.MediaType != "":
			mt = probe.MediaType
		case probe.Manifests != nil:
			mt = types.OCIImageIndex
		default:
			mt = types.OCIManifestSchema1
		}
	}
	switch mt {
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return "", ErrSchema1
	case types.OCIImageIndex, types.DockerManifestList, types.OCIManifestSchema1, types.DockerManifestSchema2:
		if err := kindConflict(mt, body); err != nil {
			return "", err
		}
		return ownType(mt, body), nil
	}
	// mt may come from the body: bounded and without control characters, as a registry's words.
	return "", fmt.Errorf("%w: %s", ErrUnsupportedMediaType, oneLine(string(mt)))
}

// ownType is the media type the manifest body gives itself when it is another of the same
// kind as mt, the Content-Type's (Docker's and OCI's image manifests, or their indexes): the
// body is what the digest covers, the header only the registry's word. The store records the
// type with the manifest and `serve` sends it back as Content-Type, which clients check
// against the body: docker refuses a Docker schema 2 Content-Type on an OCI manifest.
func ownType(mt types.MediaType, body []byte) types.MediaType {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(body, &probe) != nil {
		return mt
	}
	switch own := probe.MediaType; {
	case mt.IsIndex() && (own == types.OCIImageIndex || own == types.DockerManifestList),
		mt.IsImage() && (own == types.OCIManifestSchema1 || own == types.DockerManifestSchema2):
		return own
	}
	return mt
}

// kindConflict refuses a body that has the fields of the other kind than mt (an index or an
// image manifest), or of both (CVE-2021-41190): strata would read it as one thing and a
// client that trusts the body as another, under the same digest. containerd refuses them so.
// An empty list or a null config is no field (manifestkind.Of, which load reads bodies by
// too): an index with "layers": [] was refused here and loaded from an archive. A body that
// is not JSON is left to the parser, which says what is wrong with it.
func kindConflict(mt types.MediaType, body []byte) error {
	k, ok := manifestkind.Of(body)
	switch {
	case !ok:
	case mt.IsIndex() && k.Image:
		return fmt.Errorf("%w: %s, but the body has an image manifest's fields", ErrUnsupportedMediaType, mt)
	case !mt.IsIndex() && k.Index:
		return fmt.Errorf("%w: %s, but the body has an index's fields", ErrUnsupportedMediaType, mt)
	}
	return nil
}

// minConfigSize is the size of the smallest config there is, "{}": a config is a JSON object.
const minConfigSize = 2

// configSize refuses the config c of ref's manifest (what names the manifest in a message)
// when no config can have its size: over MaxConfigSize, ErrManifestTooLarge; negative, or
// too small for a JSON object, an invalid manifest. A negative size was said to be "-5
// bytes, over the 16 MiB limit".
func configSize(c v1.Descriptor, ref Reference, what, host string) error {
	switch {
	case c.Size > MaxConfigSize:
		return &Error{Kind: ErrManifestTooLarge, Registry: host, Msg: fmt.Sprintf(
			"%s: config %s is %d bytes, over the %d MiB limit", ref, c.Digest, c.Size, MaxConfigSize>>20)}
	case c.Size < minConfigSize:
		return unparsable(host, what, fmt.Errorf("its config %s has an invalid size, %d (a config is a JSON object, at least %d bytes)", c.Digest, c.Size, minConfigSize))
	}
	return nil
}

// digestsGiven refuses a manifest without a config, or whose config or a layer has no digest:
// "{}" parses as an image manifest of no layers whose config is the zero digest, which strata
// then asked the registry for as blob ":" ("GET …/blobs/:: Content-Length header 2 does not
// match expected size 0").
func digestsGiven(m *v1.Manifest) error {
	if m.Config.Digest == (v1.Hash{}) {
		return errors.New("it names no config (no digest)")
	}
	for i, l := range m.Layers {
		if l.Digest == (v1.Hash{}) {
			return fmt.Errorf("its layer %d has no digest", i+1)
		}
	}
	return nil
}

// imageTypes refuses a manifest whose config or a layer has a media type that no container
// image has: an artifact's (a Helm chart, a signature, an SBOM) stored in a registry as an
// image manifest. docker refuses them so (its checkSupportedMediaType, with the same
// prefixes); strata fetched the chart and failed later, in the store's words ("manifest … has
// 1 layers but its config 0 diff ids"), or with --no-unpack stored it as an image.
func imageTypes(m *v1.Manifest) error {
	if !imageMediaType(m.Config.MediaType) {
		return fmt.Errorf("%w %s (its config): an artifact, not a container image", ErrUnsupportedMediaType, oneLine(string(m.Config.MediaType)))
	}
	for _, l := range m.Layers {
		if !imageMediaType(l.MediaType) {
			return fmt.Errorf("%w %s (layer %s): an artifact, not a container image", ErrUnsupportedMediaType, oneLine(string(l.MediaType)), shortDigest(l.Digest.String()))
		}
	}
	return nil
}

// imageMediaType reports whether mt, of a config or a layer, is one that images have, as
// docker's supportedMediaTypes say: an OCI image's or Docker's, or one that old images have.
func imageMediaType(mt types.MediaType) bool {
	s := strings.ToLower(string(mt))
	return strings.HasPrefix(s, "application/vnd.oci.image.") || strings.HasPrefix(s, "application/vnd.docker.") ||
		s == "application/octet-stream" || s == "application/json" || s == "text/html" || s == ""
}

// generic reports whether a Content-Type says nothing about the manifest: old registries and
// static file servers send these, and the manifest's own fields must tell.
func generic(mt types.MediaType) bool {
	switch mt {
	case "", "text/plain", "application/json", "application/octet-stream":
		return true
	}
	return false
}

// refused words a manifest strata will not use.
func refused(err error, ref Reference, host string) error {
	if errors.Is(err, ErrSchema1) {
		return &Error{Kind: ErrSchema1, Registry: host, Msg: fmt.Sprintf(
			"%s has a Docker schema 1 manifest, which strata does not support (deprecated since 2017); push it again with a current client", ref)}
	}
	return &Error{Kind: ErrUnsupportedMediaType, Registry: host, Msg: fmt.Sprintf("%s: %s", ref, err), Err: err}
}

// sessionKey names one authenticated transport: a repository on a host, for an action.
type sessionKey struct {
	host, repo, scope string
	insecure          bool
}

// session is one authenticated transport; rt is nil until its handshake succeeds.
type session struct {
	mu   sync.Mutex
	repo name.Repository
	host string // as printed
	rt   http.RoundTripper
}

// remoteGet fetches a manifest or index through s.
func remoteGet(ctx context.Context, s *session, r name.Reference) (*remote.Descriptor, error) {
	return remote.Get(r, s.options(ctx)...)
}

// options are the go-containerregistry options that make remote use this session's
// transport as it is: a *transport.Wrapper tells remote not to wrap it again.
func (s *session) options(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithTransport(s.rt), remote.WithContext(ctx)}
}

// open returns the session for ref on ep, doing the auth handshake the first time, and the
// go-containerregistry reference on that endpoint.
func (p *Puller) open(ctx context.Context, ref Reference, ep endpoint, scope string) (*session, name.Reference, error) {
	rref, err := ref.remote(ep.host, ep.insecure)
	if err != nil {
		return nil, nil, err
	}
	key := sessionKey{host: ep.host, repo: ref.path, scope: scope, insecure: ep.insecure}
	p.mu.Lock()
	s, ok := p.sessions[key]
	if !ok {
		s = &session{repo: rref.Context(), host: ep.host}
		p.sessions[key] = s
	}
	p.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rt != nil {
		return s, rref, nil
	}
	o := opPull
	if scope != transport.PullScope {
		o = opPush
	}
	auth, err := authn.Resolve(ctx, p.keychain, s.repo)
	if err != nil {
		return nil, nil, fmt.Errorf("finding credentials for %s: %w", ep.host, err)
	}
	base := p.secure
	if ep.insecure {
		base = p.insecRT
	}
	base = relayRealms(guardHome(base, s.repo.RegistryStr()), s.repo.RegistryStr())
	rt, err := transport.NewWithContext(ctx, s.repo.Registry, auth, base, []string{s.repo.Scope(scope)})
	if err != nil {
		if noToken(err) {
			return nil, nil, noTokenError(err, o, ref.Name(), ep.host)
		}
		return nil, nil, classify(err, o, "repository "+ref.Name(), ref.Name(), ep.host)
	}
	s.rt = rt
	return s, rref, nil
}

// noToken reports whether err, from the auth handshake, is go-containerregistry's for a token
// service that answered 200 with something else than a token: a body that is not JSON, JSON of
// another shape (an array, expires_in as a string or 1e300), or no token in it. Said as is,
// "json: cannot unmarshal array into Go value of type transport.Token" named neither the
// token service nor the handshake.
func noToken(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ) || strings.HasPrefix(err.Error(), "no token in bearer response") ||
		tokenTooLarge(err)
}

// tokenTooLarge reports whether err is go-containerregistry's for a token answer longer than
// the 64 KiB it reads of one (its internal/limit's words, of no type to look for), itself or
// wrapped: a refresh in the middle of an operation returns it from within the client's
// request, in a *url.Error. Only a token answer can give it here: the manifests and error
// answers go-containerregistry reads with that limit are cut shorter by manifestLimit first.
func tokenTooLarge(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if msg := err.Error(); strings.HasPrefix(msg, "body exceeds ") && strings.HasSuffix(msg, " byte limit") {
			return true
		}
	}
	return false
}

// noTokenError words err, for which noToken is true, as the token service's of host.
func noTokenError(err error, o op, repo, host string) error {
	why := oneLine(err.Error())
	if tokenTooLarge(err) {
		why = fmt.Sprintf("its answer is larger than the %d KiB a token may take", maxTokenAnswer>>10)
	}
	return &Error{Registry: host, Err: err, Msg: fmt.Sprintf("%s %s: the token service of %s answered with no token strata can read: %s",
		o.ing(), repo, host, why)}
}

// maxTokenAnswer is what go-containerregistry reads of a token service's answer (its bearer.go's
// maxTokenBodySize).
const maxTokenAnswer = 64 << 10

// RawConfigFile returns the image config, fetched once, with a registry failure worded as
// the rest of this package words them.
func (i *Image) RawConfigFile() ([]byte, error) {
	b, err := i.Image.RawConfigFile()
	if err != nil {
		if m, merr := i.Manifest(); merr == nil && i.sess != nil {
			if e, ok := unreachableAt(err, m.Config.Digest, i.sess.repo.RegistryStr(), i.Source); ok {
				return nil, e
			}
		}
		if got, want, ok := contentLengthMismatch(err); ok {
			// go-containerregistry's words named the request's whole URL and neither the
			// config nor the image: "GET http://HOST/v2/REPO/blobs/sha256:<64 hex>:
			// Content-Length header 190 does not match expected size 180".
			m, _ := i.Manifest()
			return nil, &Error{Registry: i.Source, Err: err, Msg: fmt.Sprintf(
				"config %s of %s from %s: size mismatch: the registry says it is %d bytes, the manifest gives %d",
				shortDigest(m.Config.Digest.String()), i.Ref, i.Source, got, want)}
		}
		err = classify(err, opPull, "config of "+i.Ref.String(), i.Ref.Name(), i.Source)
		if !errors.Is(err, ErrNotFound) || len(i.up.eps) == 0 {
			return nil, err
		}
		// A mirror without the config: asked of the endpoints after it, as a layer is.
		ub, uerr := i.configUpstream()
		if uerr != nil {
			return nil, err
		}
		b = ub
	}
	// Checked again on every call: after a read that failed (cut short, or other bytes than
	// the digest names), go-containerregistry returns what it read as the config, no error.
	m, err := i.Manifest()
	if err != nil {
		return nil, unparsable(i.Source, "reading manifest of "+i.Ref.String(), err)
	}
	if int64(len(b)) != m.Config.Size || !hashes(b, m.Config.Digest) {
		return nil, &Error{Registry: i.Source, Msg: fmt.Sprintf("config %s of %s from %s does not match its digest and size (%d bytes)",
			m.Config.Digest, i.Ref, i.Source, m.Config.Size)}
	}
	return b, nil
}

// contentLengthMismatch returns the sizes of go-containerregistry's refusal of a blob whose
// Content-Length is not the size its descriptor gives (its fetcher's words, of no type to
// look for): the registry's, then the descriptor's.
func contentLengthMismatch(err error) (got, want int64, ok bool) {
	msg := err.Error()
	i := strings.LastIndex(msg, "Content-Length header ")
	if i < 0 {
		return 0, 0, false
	}
	n, serr := fmt.Sscanf(msg[i:], "Content-Length header %d does not match expected size %d", &got, &want)
	return got, want, serr == nil && n == 2
}

// configUpstream reads the config from the endpoints after the mirror that served the image
// (upstreams), at most its size and a byte; RawConfigFile checks what it gets.
func (i *Image) configUpstream() ([]byte, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	if m.Config.Size < 0 || m.Config.Size > MaxConfigSize {
		return nil, fmt.Errorf("config of %d bytes", m.Config.Size)
	}
	rc, err := i.up.fetch(context.Background(), i.sess, i.Ref, m.Config.Digest, 0, m.Config.Size, true)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, m.Config.Size+1))
}

// ConfigFile parses RawConfigFile.
func (i *Image) ConfigFile() (*v1.ConfigFile, error) {
	b, err := i.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if err := checkValues(b, "config of "+i.Ref.String(), i.Source); err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, unparsable(i.Source, "parsing config of "+i.Ref.String(), err)
	}
	return cf, nil
}
