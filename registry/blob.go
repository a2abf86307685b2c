package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// FetchBlob GETs blob h of the image's repository from offset on (0 is the whole blob), through
// the same authenticated transport that resolved the image, with the same retries. The body is
// not verified: the caller hashes what it stores, and with offset > 0 only it has the head of
// the blob. A registry that ignores the Range header gets its first offset bytes skipped here.
func (i *Image) FetchBlob(ctx context.Context, h v1.Hash, offset int64) (io.ReadCloser, error) {
	if i.sess == nil || i.sess.rt == nil {
		return nil, errors.New("fetching blob: image was not resolved by a Puller")
	}
	size, ok := i.blobSize(h)
	return i.up.fetch(ctx, i.sess, i.Ref, h, offset, size, ok)
}

// upstreams are the endpoints after the mirror that served an image's manifest, upstream
// last: a blob the mirror does not have (a mirror part-way through its sync, or one that
// keeps manifests longer than blobs) is asked of them in turn, as containerd asks each host
// of a registry in turn. What comes back is hashed as it is stored, from wherever it came.
// Zero for an image its own registry served.
type upstreams struct {
	puller *Puller
	eps    []endpoint
}

// after returns the upstreams of ep for a reference to domain: none unless ep is a mirror.
func (p *Puller) after(domain string, ep endpoint) upstreams {
	if !ep.mirror {
		return upstreams{}
	}
	eps := p.endpoints(domain)
	for i, e := range eps {
		if e.mirror && e.host == ep.host {
			return upstreams{puller: p, eps: eps[i+1:]}
		}
	}
	return upstreams{}
}

// fetch is fetchBlob through s, then, for a blob s's registry does not have, through each of
// up's endpoints until one has it. The first error is returned when none has.
func (up upstreams) fetch(ctx context.Context, s *session, ref Reference, h v1.Hash, offset, size int64, sizeKnown bool) (io.ReadCloser, error) {
	rc, err := fetchBlob(ctx, s, ref, h, offset, size, sizeKnown)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return rc, err
	}
	for _, ep := range up.eps {
		us, _, oerr := up.puller.open(ctx, ref, ep, transport.PullScope)
		if oerr != nil {
			continue
		}
		if rc, ferr := fetchBlob(ctx, us, ref, h, offset, size, sizeKnown); ferr == nil {
			return rc, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// fetchBlob GETs blob h of ref's repository through s from offset on; size, when known,
// closes the Range.
func fetchBlob(ctx context.Context, s *session, ref Reference, h v1.Hash, offset, size int64, sizeKnown bool) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("fetching blob %s: negative offset %d", h, offset)
	}
	u := url.URL{
		Scheme: s.repo.Scheme(),
		Host:   s.repo.RegistryStr(),
		Path:   fmt.Sprintf("/v2/%s/blobs/%s", s.repo.RepositoryStr(), h),
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetching blob %s: %w", h, err)
	}
	if offset > 0 {
		// A closed range when the manifest gives the size: every registry understands it,
		// while some (go-containerregistry's own) reject the open "bytes=N-".
		rng := "bytes=" + strconv.FormatInt(offset, 10) + "-"
		if sizeKnown {
			if offset >= size {
				return nil, fmt.Errorf("fetching blob %s: offset %d is not before its end (%d bytes)", h, offset, size)
			}
			rng += strconv.FormatInt(size-1, 10)
		}
		req.Header.Set("Range", rng)
	}
	client := &http.Client{Transport: s.rt, CheckRedirect: limitRedirects}
	what := fmt.Sprintf("blob %s in %s", h, ref.Name())
	resp, err := client.Do(req)
	if err != nil {
		if e, ok := unreachableAt(err, h, s.repo.RegistryStr(), s.host); ok {
			return nil, e
		}
		return nil, classify(err, opPull, what, ref.Name(), s.host)
	}
	if err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent); err != nil {
		resp.Body.Close()
		return nil, classify(err, opPull, what, ref.Name(), s.host)
	}
	if resp.StatusCode == http.StatusPartialContent {
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			resp.Body.Close()
			return nil, fmt.Errorf("fetching blob %s from %s: asked for bytes from %d, got Content-Range %q",
				h, s.host, offset, oneLine(resp.Header.Get("Content-Range")))
		}
	}
	if offset > 0 && resp.StatusCode == http.StatusOK {
		if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("fetching blob %s: skipping to offset %d: %w", h, offset, err)
		}
	}
	return resp.Body, nil
}

// unreachableAt words err, a failed GET of blob d, when the registry, requested at home
// ("127.0.0.1:5000", "index.docker.io"), had redirected it to another host that could not be
// reached (a CDN down, a port closed): that host is named, not the registry, which answered.
// ok is false for any other error, and for this package's own words (a refused private
// address), which say enough.
func unreachableAt(err error, d v1.Hash, home, host string) (error, bool) {
	var own *Error
	if errors.As(err, &own) {
		return nil, false
	}
	at := failedHost(err)
	if at == "" || at == home || isRegistryHost(at, host) {
		return nil, false
	}
	msg := connMessage(err)
	if msg == "" {
		return nil, false
	}
	// The redirect's host is the registry's words: url.Parse lets C1 controls through.
	return &Error{Kind: ErrUnreachable, Registry: host, Err: err,
		Msg: fmt.Sprintf("blob %s: %s at %s (redirected from %s)", shortDigest(d.String()), msg, oneLine(at), host)}, true
}

// maxRedirects is how many redirects a request follows: net/http's default.
const maxRedirects = 10

// isPrivate reports whether host, an address or "localhost", is on the local network (see
// privateAddr). A name other than localhost is not: only its addresses can say.
func isPrivate(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && privateAddr(ip)
}

// homeGuard keeps the requests of one registry's session off the local network when the
// registry itself is not on it. Redirects are one way there; the realm of a Bearer challenge
// is another: it names any URL the registry likes, and go-containerregistry fetches a token
// there, with the user's credentials for the registry. It names the registry as the origin of
// every request for another host; dialGuard, at the bottom of the stack, enforces the rule.
type homeGuard struct {
	inner http.RoundTripper
	home  string // the registry's host name, without the port
}

func (g *homeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() != g.home {
		req = req.WithContext(withOrigin(req.Context(), g.home))
	}
	return g.inner.RoundTrip(req)
}

// guardHome wraps rt in a homeGuard for the registry at host ("index.docker.io",
// "127.0.0.1:5000").
func guardHome(rt http.RoundTripper, host string) http.RoundTripper {
	return &homeGuard{inner: rt, home: (&url.URL{Host: host}).Hostname()}
}

// redirectGuard applies the rule of homeGuard to each redirect, wherever the chain started (a
// token realm on another host, say), and counts the redirects: go-containerregistry's clients
// follow them with a policy strata does not set. A request that http.Client made to follow a
// redirect carries the response that caused it; the chain leads to the host first asked.
type redirectGuard struct {
	inner http.RoundTripper
}

func (g *redirectGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Response != nil && req.Response.Request != nil {
		ctx := req.Context()
		hops := 0
		for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
			if hops++; hops > maxRedirects {
				// go-containerregistry's clients replace net/http's redirect policy, and its
				// limit, with an SSRF check that has none: a registry redirecting in a loop
				// kept a push (a manifest HEAD) following it forever.
				return nil, errStopRedirects
			}
			if from := r.Response.Request.URL.Hostname(); from != req.URL.Hostname() {
				ctx = withOrigin(ctx, from)
			}
		}
		if err := pingDowngrade(req); err != nil {
			return nil, err
		}
		req = req.WithContext(ctx)
	}
	return g.inner.RoundTrip(req)
}

// pingDowngrade refuses req, a redirect, when it takes the ping (GET /v2/) of a registry
// asked over https to plain http. go-containerregistry takes the scheme of the ping's last
// URL for the registry's: every later request of the session, the user's credentials and
// tokens with it, then went to the registry in clear (to port 80), and its checks of the
// token realm took the registry for an insecure one. Docker keeps using https (its
// credentials are tied to the URL the ping ended at). An insecure registry's ping over plain
// http is made apart, and is not refused.
func pingDowngrade(req *http.Request) error {
	if req.URL.Scheme != "http" || !isPing(req) {
		return nil
	}
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		from := r.Response.Request.URL
		if from.Scheme == "https" {
			to := *req.URL
			to.User, to.RawQuery, to.ForceQuery, to.Fragment, to.RawFragment = nil, "", false, "", ""
			return &Error{Registry: from.Host, Msg: fmt.Sprintf(
				"registry %s redirected its https API to plain http (%s), which would send the credentials in clear; name it an insecure registry if plain http is meant",
				oneLine(from.Host), oneLine(to.String()))}
		}
	}
	return nil
}

// blobSize looks h up among the manifest's layers and config.
func (i *Image) blobSize(h v1.Hash) (int64, bool) {
	n, ok := i.sizes[h]
	return n, ok
}

// rangeStart returns the first byte of a Content-Range "bytes START-END/SIZE".
func rangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil && n >= 0
}
