package registry

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// go-containerregistry refuses a Bearer realm whose host is a private, loopback or
// link-local address unless it is the registry's own host:port (its validateRealmURL), to keep
// a hostile registry from sending the token request, credentials and all, to the local
// network. strata has that rule already, and the right one: a registry that is itself on the
// local network may send strata anywhere, its token service included (docs/registries.md),
// which is how a registry with docker_auth on another port is set up; a public registry may
// not, and dialGuard refuses that on the address each connection lands on. So a realm that
// go-containerregistry would refuse for its address alone is relayed: the challenge it reads
// names the registry's own host:port, on a path of strata's, and realmRelay sends the token
// request that comes back there to the realm the registry named, where homeGuard and
// dialGuard judge it as any request for another host.

// relayPath starts the path of a relayed realm: relayPath + its number in realmRelay.realms.
const relayPath = "/.strata-token-realm/"

// maxRelayed bounds the realms one session relays; a registry naming more gets
// go-containerregistry's refusal for the rest.
const maxRelayed = 8

// realmParam finds the realm parameter of a challenge: quoted (with backslash escapes) or
// a bare token. Compiled on first use: every strata command would compile it at start, and
// only a registry's challenge needs it.
var realmParam = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(^|[\s,])(realm\s*=\s*)("(?:[^"\\]|\\.)*"|[^\s,"]+)`)
})

// go-containerregistry's clients refuse a redirect the same way (its checkRedirectSSRF): to a
// private, loopback or link-local address on a host other than the registry's. A registry on
// the local network sending blobs to its storage by address (a MinIO at http://10.0.0.7:9000, a
// loopback registry to [::1]) was refused, where docker follows. Such a redirect is relayed
// too: its Location names the registry's own host:port, on a path of strata's (redirectPath
// and a number), and realmRelay sends the request that comes back there to the URL the
// registry named, without the registry's credentials, where homeGuard and dialGuard judge it as
// any request for another host (a public registry's is refused there).

// redirectPath starts the path of a relayed redirect: redirectPath + its number in
// realmRelay.redirects.
const redirectPath = "/.strata-redirect/"

// maxRedirectsKept bounds the relayed redirects a session remembers: each is followed at once,
// so the oldest, past this many, are dropped.
const maxRedirectsKept = 256

// relayRealms wraps rt, a session's homeGuard for the registry at host (as
// go-containerregistry names it: "127.0.0.1:5000"), in a realmRelay: above homeGuard, so a
// relayed token request is one for another host there.
func relayRealms(rt http.RoundTripper, host string) http.RoundTripper {
	return &realmRelay{inner: rt, host: host}
}

// realmRelay relays the realms go-containerregistry would refuse for their address.
type realmRelay struct {
	inner http.RoundTripper
	host  string

	mu     sync.Mutex
	realms []*url.URL
	// redirects are the relayed redirects by number; nextRedirect numbers the next one.
	redirects    map[int]*url.URL
	nextRedirect int
}

func (t *realmRelay) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		resp, err := t.inner.RoundTrip(req)
		if err == nil {
			t.relayLocation(resp, req.URL)
		}
		return resp, err
	}
	if n, ok := strings.CutPrefix(req.URL.Path, relayPath); ok {
		return t.relay(req, n)
	}
	if n, ok := strings.CutPrefix(req.URL.Path, redirectPath); ok {
		return t.relayRedirect(req, n)
	}
	resp, err := t.inner.RoundTrip(req)
	if err == nil {
		t.relayLocation(resp, req.URL)
		if hs := resp.Header.Values("WWW-Authenticate"); len(hs) > 0 {
			out := make([]string, len(hs))
			for i, h := range hs {
				out[i] = t.rewrite(h)
			}
			resp.Header["Www-Authenticate"] = out
		}
	}
	return resp, err
}

// relay sends req, a token request for the relayed realm number n, to that realm, with the
// query go-containerregistry added (scope, service) on top of the realm's own.
func (t *realmRelay) relay(req *http.Request, n string) (*http.Response, error) {
	i, err := strconv.Atoi(n)
	t.mu.Lock()
	var realm *url.URL
	if err == nil && i >= 0 && i < len(t.realms) {
		realm = t.realms[i]
	}
	t.mu.Unlock()
	if realm == nil {
		return nil, &Error{Registry: t.host, Msg: "token request for an unknown realm " + strconv.Quote(n)}
	}
	u := *realm
	q := u.Query()
	for k, v := range req.URL.Query() {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	out := req.Clone(req.Context())
	out.URL = &u
	out.Host = ""
	// The client follows a relayed redirect as one to the registry's own host, and sends the
	// credentials again; they go to the realm the registry named, not to where it redirects
	// (another host), as they would not if the realm were not relayed.
	if origin := t.origin(req); origin == nil || hostPort(origin) != hostPort(&u) {
		out.Header.Del("Authorization")
	}
	resp, err := t.inner.RoundTrip(out)
	if err != nil {
		// Said here: net/http words it with the relayed URL, on the registry's host:port.
		if msg := connMessage(err); msg != "" {
			return nil, unreachableFor(u.Host, t.host, msg, err)
		}
		return nil, err
	}
	// A redirect of the realm is relayed as the realm is: go-containerregistry checks it the
	// same way. A relative one is the realm's, not the registry's: the client that follows it
	// knows only the relayed URL.
	if loc := resp.Header.Get("Location"); loc != "" {
		if l, perr := u.Parse(loc); perr == nil {
			if r, ok := t.relayed(l); ok {
				resp.Header.Set("Location", r)
			} else {
				resp.Header.Set("Location", l.String())
			}
		}
	}
	return resp, nil
}

// relayLocation relays the redirect resp makes, to a request for base, when
// go-containerregistry would refuse it for its address.
func (t *realmRelay) relayLocation(resp *http.Response, base *url.URL) {
	if !isRedirect(resp.StatusCode) {
		return
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	to, err := base.Parse(loc)
	if err != nil {
		return
	}
	if r, ok := t.redirected(to); ok {
		resp.Header.Set("Location", r)
	}
}

// isRedirect reports whether code is one net/http's client follows with a Location.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirected returns the URL on the registry's host:port that relays a redirect to target,
// when go-containerregistry would refuse target for its address: a private one on another host
// than the registry's (it lets any port of the registry's own host through).
func (t *realmRelay) redirected(target *url.URL) (string, bool) {
	home := (&url.URL{Host: t.host}).Hostname()
	if (target.Scheme != "http" && target.Scheme != "https") || target.Hostname() == home || !privateLiteral(target.Hostname()) {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.redirects == nil {
		t.redirects = map[int]*url.URL{}
	}
	n := t.nextRedirect
	t.nextRedirect++
	t.redirects[n] = target
	delete(t.redirects, n-maxRedirectsKept)
	return target.Scheme + "://" + t.host + redirectPath + strconv.Itoa(n), true
}

// relayRedirect sends req, the request that follows the relayed redirect number n, to the URL
// the redirect named, as it is (a signed URL's query must not change), without the
// credentials the client sent along to what it took for the registry's host. A redirect it
// answers with is made absolute, and relayed again where need be: the client knows only the
// relayed URL.
func (t *realmRelay) relayRedirect(req *http.Request, n string) (*http.Response, error) {
	i, err := strconv.Atoi(n)
	t.mu.Lock()
	var to *url.URL
	if err == nil {
		to = t.redirects[i]
	}
	t.mu.Unlock()
	if to == nil {
		return nil, &Error{Registry: t.host, Msg: "request for an unknown redirect " + strconv.Quote(n)}
	}
	u := *to
	out := req.Clone(req.Context())
	out.URL = &u
	out.Host = ""
	out.Header.Del("Authorization")
	out.Header.Del("Cookie")
	resp, err := t.inner.RoundTrip(out)
	if err != nil {
		// Said here: net/http words it with the relayed URL, on the registry's host:port.
		if msg := connMessage(err); msg != "" {
			return nil, unreachableFor(u.Host, t.host, msg, err)
		}
		return nil, err
	}
	if loc := resp.Header.Get("Location"); loc != "" && isRedirect(resp.StatusCode) {
		if l, perr := u.Parse(loc); perr == nil {
			if r, ok := t.redirected(l); ok {
				resp.Header.Set("Location", r)
			} else {
				resp.Header.Set("Location", l.String())
			}
		}
	}
	return resp, nil
}

// origin returns the URL the redirects that led to req started at: the realm the registry
// named. The response to a relayed request names the realm's URL as its request.
func (t *realmRelay) origin(req *http.Request) *url.URL {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	n, ok := strings.CutPrefix(first.URL.Path, relayPath)
	if first.URL.Host != t.host || !ok {
		return first.URL
	}
	i, err := strconv.Atoi(n)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil || i < 0 || i >= len(t.realms) {
		return nil
	}
	return t.realms[i]
}

// hostPort is u's host and port, the scheme's port if it names none.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// rewrite returns the challenge h with its realm relayed when go-containerregistry would
// refuse it for its address, and as it is otherwise.
func (t *realmRelay) rewrite(h string) string {
	re := realmParam()
	return re.ReplaceAllStringFunc(h, func(m string) string {
		sub := re.FindStringSubmatch(m)
		raw := sub[3]
		if strings.HasPrefix(raw, `"`) {
			raw = unescapeQuoted(raw[1 : len(raw)-1])
		}
		u, err := url.Parse(raw)
		if err != nil {
			return m
		}
		r, ok := t.relayed(u)
		if !ok {
			return m
		}
		return sub[1] + sub[2] + strconv.Quote(r)
	})
}

// relayed returns the URL on the registry's host:port that relays realm, when
// go-containerregistry would refuse realm for its address.
func (t *realmRelay) relayed(realm *url.URL) (string, bool) {
	if (realm.Scheme != "http" && realm.Scheme != "https") || realm.Host == t.host || !privateLiteral(realm.Hostname()) {
		return "", false
	}
	n, ok := t.add(realm)
	if !ok {
		return "", false
	}
	return realm.Scheme + "://" + t.host + relayPath + strconv.Itoa(n), true
}

// add records realm and returns its number; the same realm keeps its number.
func (t *realmRelay) add(realm *url.URL) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, r := range t.realms {
		if r.String() == realm.String() {
			return i, true
		}
	}
	if len(t.realms) >= maxRelayed {
		return 0, false
	}
	t.realms = append(t.realms, realm)
	return len(t.realms) - 1, true
}

// privateLiteral reports whether host is an IP address go-containerregistry refuses as a
// realm: private, loopback, link-local or unspecified.
func privateLiteral(host string) bool {
	host, _, _ = strings.Cut(host, "%")
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsPrivate() || ip.IsUnspecified()
}

// unescapeQuoted undoes the backslash escapes of an HTTP quoted string's content.
func unescapeQuoted(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
