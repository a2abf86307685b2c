package registry

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sync"
	"time"
)

// A registry may send strata elsewhere: a redirect (Docker Hub sends blobs to its CDN), or the
// realm of a Bearer challenge, where go-containerregistry fetches a token with the user's
// credentials. A public registry must not be able to send strata to the local network (a
// cloud's metadata service, an admin port on localhost). The rule is checked on the address
// each connection is made to, with the DNS answer that very dial got: a check that looked the
// name up on its own could be told a public address, and the dial, a moment later, a private
// one (DNS rebinding).
//
// The pieces, from the top of the transport stack down:
//
//   - homeGuard and redirectGuard name, in the request's context, the hosts whose answers led
//     to a request for another host: the registry of the session, the host a redirect came from.
//   - dialGuard, at the bottom, sends a request that one of those origins being public led to
//     through a second *http.Transport, whose dials refuse private addresses. Its connections
//     are its own: a connection to the same host made for a local registry, which may send
//     anywhere, is never reused for it.
//   - dialer makes every connection: it resolves the name once, checks each address, and
//     connects to the address it checked. It also remembers which names landed on a public
//     address: such a name is public for the rest of the command, so a registry cannot rebind
//     its own name to a private address for its next connection either.
//
// Through an HTTP(S) proxy strata never learns the address: the proxy resolves and connects.
// The proxy itself, which the user chose, is always allowed; a request through it that must
// stay public is checked on the name, looked up here, as well as strata can.

// netHooks replaces the network under the transport, for tests: DNS answers and connections.
// Nil fields are the real resolver and net.Dialer.
type netHooks struct {
	lookup  func(ctx context.Context, host string) ([]net.IPAddr, error)
	connect func(ctx context.Context, network, addr string) (net.Conn, error)
	// proxy replaces http.ProxyFromEnvironment, which reads the environment once per process.
	proxy func(*http.Request) (*url.URL, error)
	// roots replaces the system's certificate authorities, so a test's TLS server is trusted.
	roots *x509.CertPool
}

// originsKey is the context key of the hosts whose answers led to a request.
type originsKey struct{}

// withOrigin adds host to the origins of the requests made with ctx.
func withOrigin(ctx context.Context, host string) context.Context {
	prev, _ := ctx.Value(originsKey{}).([]string)
	if slices.Contains(prev, host) {
		return ctx
	}
	return context.WithValue(ctx, originsKey{}, append(slices.Clip(prev), host))
}

func originsOf(ctx context.Context) []string {
	o, _ := ctx.Value(originsKey{}).([]string)
	return o
}

// fromKey is the context key of the public host a guarded request came from, for the message.
type fromKey struct{}

// dialer makes the connections of one Puller (every *http.Transport of its stacks).
type dialer struct {
	hooks netHooks

	mu sync.Mutex
	// landed records, per host name, whether a connection to it landed on a public address
	// (true) or so far only on private ones (false).
	landed map[string]bool
}

// maxLanded bounds what dialer remembers; past it, a name it has not seen is looked up.
const maxLanded = 1024

func newDialer(h *netHooks) *dialer {
	d := &dialer{landed: map[string]bool{}}
	if h != nil {
		d.hooks = *h
	}
	return d
}

// dialTimeout is net/http's and go-containerregistry's, for a connection; minAddrTimeout is
// the least each of a name's addresses gets of it (net.Dialer's 2 s).
const (
	dialTimeout    = 30 * time.Second
	minAddrTimeout = 2 * time.Second
)

func (d *dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	var addrs []net.IPAddr
	var err error
	if d.hooks.lookup != nil {
		addrs, err = d.hooks.lookup(ctx, host)
	} else {
		addrs, err = net.DefaultResolver.LookupIPAddr(ctx, host)
	}
	if err != nil {
		return nil, err
	}
	ips := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			ips = append(ips, ip.Unmap())
		}
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return ips, nil
}

func (d *dialer) connect(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.hooks.connect != nil {
		return d.hooks.connect(ctx, network, addr)
	}
	return (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(ctx, network, addr)
}

// publicName reports whether a connection to host name was seen landing on a public address.
func (d *dialer) publicName(host string) (public, known bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	public, known = d.landed[host]
	return public, known
}

func (d *dialer) record(host string, ip netip.Addr) {
	if _, err := netip.ParseAddr(host); err == nil {
		return // an address says what it is
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.landed[host] {
		return // public stays public
	}
	if _, ok := d.landed[host]; !ok && len(d.landed) >= maxLanded {
		return
	}
	d.landed[host] = !privateAddr(ip)
}

// dialContext returns the DialContext of a transport: publicOnly refuses private addresses.
func (d *dialer) dialContext(publicOnly bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.dial(ctx, network, addr, publicOnly)
	}
}

func (d *dialer) dial(ctx context.Context, network, addr string, publicOnly bool) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := d.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	// A name that landed on a public address in this command stays public: its owner must
	// not be able to point it at the local network for the next connection.
	wasPublic, _ := d.publicName(host)
	var allowed []netip.Addr
	var refused netip.Addr
	for _, ip := range ips {
		if privateAddr(ip) && (publicOnly || wasPublic) {
			if !refused.IsValid() {
				refused = ip
			}
			continue
		}
		allowed = append(allowed, ip)
	}
	if len(allowed) == 0 {
		if publicOnly {
			from, _ := ctx.Value(fromKey{}).(string)
			return nil, refusal(from, host, refused.String())
		}
		return nil, &Error{Msg: fmt.Sprintf("refusing to connect to %s at private address %s: it was at a public address before (DNS rebinding)", oneLine(host), refused)}
	}
	conn, ip, err := d.dialParallel(ctx, network, port, allowed)
	if err != nil {
		return nil, err
	}
	d.record(host, ip)
	return conn, nil
}

// fallbackDelay is how long the addresses of a name's first family get before those of the
// other family are tried beside them (RFC 8305's "Happy Eyeballs"; net.Dialer's 300 ms), so a
// host whose IPv6 is broken still connects at once over IPv4.
const fallbackDelay = 300 * time.Millisecond

// dialParallel connects to one of addrs: those of the first address's family in turn, and,
// from fallbackDelay on or once they all failed, those of the other family beside them. The
// first connection wins; a later one is closed.
func (d *dialer) dialParallel(ctx context.Context, network, port string, addrs []netip.Addr) (net.Conn, netip.Addr, error) {
	var primaries, fallbacks []netip.Addr
	for _, ip := range addrs {
		if ip.Is4() == addrs[0].Is4() {
			primaries = append(primaries, ip)
		} else {
			fallbacks = append(fallbacks, ip)
		}
	}
	if len(fallbacks) == 0 {
		return d.dialSerial(ctx, network, port, primaries)
	}
	type result struct {
		conn    net.Conn
		ip      netip.Addr
		err     error
		primary bool
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result)
	returned := make(chan struct{})
	defer close(returned)
	race := func(primary bool, addrs []netip.Addr) {
		go func() {
			conn, ip, err := d.dialSerial(ctx, network, port, addrs)
			select {
			case results <- result{conn, ip, err, primary}:
			case <-returned:
				if conn != nil {
					conn.Close()
				}
			}
		}()
	}
	race(true, primaries)
	timer := time.NewTimer(fallbackDelay)
	defer timer.Stop()
	fallbackStarted := false
	var primaryErr, fallbackErr error
	for {
		select {
		case <-timer.C:
			if !fallbackStarted {
				fallbackStarted = true
				race(false, fallbacks)
			}
		case r := <-results:
			if r.err == nil {
				return r.conn, r.ip, nil
			}
			if r.primary {
				primaryErr = r.err
			} else {
				fallbackErr = r.err
			}
			if !fallbackStarted {
				fallbackStarted = true
				race(false, fallbacks)
			}
			if primaryErr != nil && fallbackErr != nil {
				return nil, netip.Addr{}, primaryErr
			}
		}
	}
}

// dialSerial connects to the first of addrs that answers. As net.Dialer does with a name, the
// addresses share dialTimeout, each getting an equal part of what is left (at least
// minAddrTimeout): a dead first address of several does not cost the whole of it.
func (d *dialer) dialSerial(ctx context.Context, network, port string, addrs []netip.Addr) (net.Conn, netip.Addr, error) {
	deadline := time.Now().Add(dialTimeout)
	var first error
	for i, ip := range addrs {
		actx, cancel := context.WithTimeout(ctx, max(time.Until(deadline)/time.Duration(len(addrs)-i), minAddrTimeout))
		conn, err := d.connect(actx, network, net.JoinHostPort(ip.String(), port))
		cancel()
		if err == nil {
			return conn, ip, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, netip.Addr{}, first
}

// refusal is the error for a request that would go from a public host to a private address.
func refusal(from, host, addr string) error {
	if from == "" {
		from = "a public host"
	}
	// A redirect's host is the registry's words: url.Parse lets C1 controls through.
	from, host = oneLine(from), oneLine(host)
	if addr == host {
		return &Error{Msg: fmt.Sprintf("refusing to go from %s to private address %s", from, host)}
	}
	return &Error{Msg: fmt.Sprintf("refusing to go from %s to %s, a private address (%s)", from, host, addr)}
}

// localOrigin reports whether a request that host's answer led to may go anywhere: host is
// on the local network itself. A name is judged by where its connections landed, and only
// when it was never connected to here (it was reached through a proxy) by a lookup.
func (d *dialer) localOrigin(ctx context.Context, host string) bool {
	if host == "localhost" {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return privateAddr(ip.Unmap())
	}
	if public, known := d.publicName(host); known {
		return !public
	}
	ips, err := d.lookup(ctx, host)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(ips, privateAddr)
}

// dialGuard is the bottom of the transport stack: a request that a public host's answer led to
// goes through guarded, whose dials refuse private addresses; any other through open.
type dialGuard struct {
	open, guarded *http.Transport
	d             *dialer
}

func (g *dialGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var from string
	for _, o := range originsOf(ctx) {
		if o != req.URL.Hostname() && !g.d.localOrigin(ctx, o) {
			from = o
			break
		}
	}
	if from == "" {
		return g.open.RoundTrip(req)
	}
	if g.open.Proxy != nil {
		if proxy, err := g.open.Proxy(req); err != nil || proxy != nil {
			// The proxy connects, not strata: the name is all there is to check.
			if err := g.d.checkName(ctx, from, req.URL.Hostname()); err != nil {
				return nil, err
			}
			return g.open.RoundTrip(req)
		}
	}
	return g.guarded.RoundTrip(req.WithContext(context.WithValue(ctx, fromKey{}, from)))
}

// checkName refuses host if it is, or resolves to, a private address: the check for a request
// that goes through a proxy.
func (d *dialer) checkName(ctx context.Context, from, host string) error {
	if host == "localhost" {
		return refusal(from, host, host)
	}
	ips, err := d.lookup(ctx, host)
	if err != nil {
		return nil // the proxy says so, in its words
	}
	for _, ip := range ips {
		if privateAddr(ip) {
			return refusal(from, host, ip.String())
		}
	}
	return nil
}

// privateAddr reports whether ip is on the local network: private, loopback, link-local,
// unspecified or "this network" (0/8, which Linux connects to this host), the shared address
// space, or an IPv6 address that embeds such an IPv4 one (NAT64's well-known prefix, 6to4).
func privateAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	if ip.Is4() {
		return thisNetwork.Contains(ip) || sharedSpace.Contains(ip)
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return privateAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		return privateAddr(netip.AddrFrom4([4]byte(b[2:6])))
	case siteLocal.Contains(ip):
		return true
	}
	return false
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	// sharedSpace is 100.64.0.0/10 (RFC 6598, carrier-grade NAT), which IsPrivate leaves
	// out: it is no more the public internet than 10/8, and a cloud's metadata service lives
	// there (Alibaba Cloud's, 100.100.100.200).
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
	siteLocal   = netip.MustParsePrefix("fec0::/10") // deprecated, still routed locally
)

// errStopRedirects is the error of a chain of redirects past maxRedirects.
var errStopRedirects = fmt.Errorf("stopped after %d redirects", maxRedirects)

// limitRedirects is the CheckRedirect of strata's own clients: net/http's limit, worded as
// redirectGuard words it. Where a redirect may go is the transport's business.
func limitRedirects(_ *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errStopRedirects
	}
	return nil
}
