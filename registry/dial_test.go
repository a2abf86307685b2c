package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// fakeNet is a network of named hosts played by servers on 127.0.0.1: DNS answers come from
// names, and a connection to an address goes to the listener routes names for it. Nothing
// else is dialed, so a test can give a registry a public address without a packet leaving
// the machine.
type fakeNet struct {
	mu sync.Mutex
	// names holds a host's answers, one per lookup; the last one repeats.
	names   map[string][]string
	lookups map[string]int
	// routes maps an address dialed ("203.0.113.7:443") to the listener that plays it.
	routes map[string]string
}

func newFakeNet() *fakeNet {
	return &fakeNet{names: map[string][]string{}, lookups: map[string]int{}, routes: map[string]string{}}
}

// host makes name resolve to addrs in turn (the last one for every later lookup); an answer
// of several addresses separates them with commas.
func (n *fakeNet) host(name string, addrs ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.names[name] = addrs
}

// blackhole is the route of an address whose connections never answer.
const blackhole = "blackhole"

// route makes a connection to addr ("ip:port") reach srv.
func (n *fakeNet) route(addr string, srv *httptest.Server) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.routes[addr] = srv.Listener.Addr().String()
}

func (n *fakeNet) hooks() *netHooks {
	return &netHooks{
		lookup: func(_ context.Context, host string) ([]net.IPAddr, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			answers, ok := n.names[host]
			if !ok {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			i := min(n.lookups[host], len(answers)-1)
			n.lookups[host]++
			var addrs []net.IPAddr
			for _, a := range strings.Split(answers[i], ",") {
				addrs = append(addrs, net.IPAddr{IP: net.ParseIP(a)})
			}
			return addrs, nil
		},
		connect: func(ctx context.Context, network, addr string) (net.Conn, error) {
			n.mu.Lock()
			target, ok := n.routes[addr]
			n.mu.Unlock()
			if target == blackhole {
				<-ctx.Done() // a SYN that nobody answers
				return nil, &net.OpError{Op: "dial", Net: network, Err: ctx.Err()}
			}
			if !ok {
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			var d net.Dialer
			return d.DialContext(ctx, network, target)
		},
		// No proxy, whatever the environment of the test says.
		proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
	}
}

// hitCounter is a server that must not be reached: it counts the requests it gets.
type hitCounter struct{ n atomic.Int64 }

func (h *hitCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.n.Add(1)
	io.WriteString(w, "secret metadata")
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func backend() http.Handler {
	return ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
}

// redirectBlobs sends every blob GET to the same path on base, and closes every connection,
// so each request dials (and looks its host up) anew.
func redirectBlobs(base string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			http.Redirect(w, r, base+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func closeConns(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		next.ServeHTTP(w, r)
	})
}

// pullAll resolves ref and reads every blob of it, through FetchBlob.
func pullAll(ctx context.Context, p *Puller, ref Reference) error {
	img, err := p.Image(ctx, ref)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		body, err := img.FetchBlob(ctx, d, 0)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, body)
		body.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// TestRedirectRebinding: a public registry redirects blobs to a name whose DNS answer is
// public the first time and private (127.0.0.1, where a metadata service listens) from then
// on, as DNS rebinding does. A check that looks the name up before the dial, which looks it up
// again, lets the dial through; the address dialed must be the one checked.
func TestRedirectRebinding(t *testing.T) {
	n := newFakeNet()
	back := backend()
	meta := &hitCounter{}
	metaSrv := newServer(t, meta)
	cdnSrv := newServer(t, closeConns(back))
	regSrv := newServer(t, redirectBlobs("http://rebind.example.test:8080", back))
	n.host("registry.example.test", "203.0.113.7")
	n.route("203.0.113.7:5000", regSrv)
	n.host("rebind.example.test", "203.0.113.9", "127.0.0.1")
	n.route("203.0.113.9:8080", cdnSrv)
	n.route("127.0.0.1:8080", metaSrv)

	opts := testOptions()
	opts.Insecure = true // plain HTTP to a host that is not loopback
	opts.net = n.hooks()
	ref := mustRef(t, "registry.example.test:5000/app/x:1")
	if err := Push(context.Background(), ref, randomImage(t), opts); err != nil {
		t.Fatalf("Push = %v", err)
	}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	err = pullAll(context.Background(), p, ref)
	if meta.n.Load() != 0 {
		t.Fatalf("the metadata service on 127.0.0.1 was reached %d times through a rebound name", meta.n.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "private address") {
		t.Errorf("pull through a rebound name = %v, want a refusal naming the private address", err)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q is not one line", err)
	}
}

// TestRegistryRebindsItself: a public registry cannot point its own name at the local network
// for its next connection either: a name that landed on a public address stays public.
func TestRegistryRebindsItself(t *testing.T) {
	n := newFakeNet()
	back := backend()
	meta := &hitCounter{}
	regSrv := newServer(t, closeConns(back))
	n.host("registry.example.test", "203.0.113.7", "127.0.0.1")
	n.route("203.0.113.7:5000", regSrv)
	n.route("127.0.0.1:5000", newServer(t, meta))
	opts := testOptions()
	opts.Insecure = true
	opts.net = n.hooks()

	img := randomImage(t)
	// Pushed past the fake network, straight to the backend.
	if err := Push(context.Background(), mustRef(t, strings.TrimPrefix(regSrv.URL, "http://")+"/app/x:1"), img, testOptions()); err != nil {
		t.Fatal(err)
	}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	err = pullAll(context.Background(), p, mustRef(t, "registry.example.test:5000/app/x:1"))
	if meta.n.Load() != 0 {
		t.Fatalf("127.0.0.1 was reached %d times when the registry's name moved there", meta.n.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "rebinding") {
		t.Errorf("pull from a registry that rebinds its name = %v, want a refusal", err)
	}
}

// TestLocalRegistriesStillRedirect: a registry on the local network (a company's, on a name
// that resolves to 10.0.0.5) may send blobs to another local host, as before.
func TestLocalRegistriesStillRedirect(t *testing.T) {
	n := newFakeNet()
	back := backend()
	store := &cdn{backend: back}
	storeSrv := newServer(t, store)
	regSrv := newServer(t, redirectBlobs("http://minio.corp:9000", back))
	n.host("registry.corp", "10.0.0.5")
	n.route("10.0.0.5:5000", regSrv)
	n.host("minio.corp", "10.0.0.7")
	n.route("10.0.0.7:9000", storeSrv)
	opts := testOptions()
	opts.Insecure = true
	opts.net = n.hooks()
	ref := mustRef(t, "registry.corp:5000/app/x:1")
	if err := Push(context.Background(), ref, randomImage(t), opts); err != nil {
		t.Fatalf("Push = %v", err)
	}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := pullAll(context.Background(), p, ref); err != nil {
		t.Fatalf("pull from a local registry redirecting to a local blob store = %v", err)
	}
	if store.hits == 0 {
		t.Error("the blob store was never asked: the redirect was not followed")
	}
}

// TestPublicRedirectToPrivate: a public registry's redirect or token realm to a private
// address, a name that resolves to one, or localhost is refused before anything is sent there.
func TestPublicRedirectToPrivate(t *testing.T) {
	for _, target := range []string{"10.1.2.3", "169.254.169.254", "internal.example.test", "localhost", "[::1]", "[64:ff9b::a9fe:a9fe]"} {
		t.Run(target, func(t *testing.T) {
			n := newFakeNet()
			back := backend()
			meta := &hitCounter{}
			metaSrv := newServer(t, meta)
			host := strings.Trim(target, "[]")
			n.host("internal.example.test", "10.9.9.9")
			n.host("localhost", "127.0.0.1")
			for _, a := range []string{host, "10.9.9.9", "127.0.0.1"} {
				n.route(net.JoinHostPort(a, "80"), metaSrv)
			}
			regSrv := newServer(t, redirectBlobs("http://"+target, back))
			n.host("registry.example.test", "203.0.113.7")
			n.route("203.0.113.7:5000", regSrv)
			opts := testOptions()
			opts.Insecure = true
			opts.net = n.hooks()
			ref := mustRef(t, "registry.example.test:5000/app/x:1")
			if err := Push(context.Background(), ref, randomImage(t), opts); err != nil {
				t.Fatalf("Push = %v", err)
			}
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			err = pullAll(context.Background(), p, ref)
			if meta.n.Load() != 0 {
				t.Fatalf("%s was reached %d times", target, meta.n.Load())
			}
			// dialGuard refuses it, an address in the redirect (relayed past go-containerregistry's
			// own check) as a name that resolves to one.
			if err == nil || !strings.Contains(err.Error(), "private") || strings.Contains(err.Error(), "\n") {
				t.Errorf("pull redirected to %s = %v, want refused", target, err)
			}
		})
	}
}

// TestPublicRealmToPrivate: the realm of a public registry's Bearer challenge names a private
// address: no token request, with the user's credentials, goes there.
func TestPublicRealmToPrivate(t *testing.T) {
	n := newFakeNet()
	meta := &hitCounter{}
	n.route("169.254.169.254:80", newServer(t, meta))
	regSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://169.254.169.254/latest/meta-data",service="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	n.host("registry.example.test", "203.0.113.7")
	n.route("203.0.113.7:5000", regSrv)
	opts := withAuth("alice", "s3cret")
	opts.Insecure = true
	opts.net = n.hooks()
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Image(context.Background(), mustRef(t, "registry.example.test:5000/app/x:1"))
	if meta.n.Load() != 0 {
		t.Fatalf("the realm on 169.254.169.254 was asked %d times", meta.n.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "private") {
		t.Errorf("Image = %v, want the realm refused", err)
	}
}

// TestProxyOnPrivateAddress: an HTTP proxy on the local network, as most are, carries the
// requests of a public registry, its redirects included; a redirect to a private address is
// still refused, on the name, since only the proxy sees the address.
func TestProxyOnPrivateAddress(t *testing.T) {
	back := backend()
	var mu sync.Mutex
	var proxied []string
	// The proxy plays every host: it serves what the registry would, and refuses nothing.
	regHandler := redirectBlobs("http://cdn.example.test", back)
	proxySrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			http.Error(w, "plain HTTP only", http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		proxied = append(proxied, r.Host)
		mu.Unlock()
		if r.Host == "cdn.example.test" {
			back.ServeHTTP(w, r)
			return
		}
		regHandler.ServeHTTP(w, r)
	}))
	for _, redirectTo := range []string{"cdn.example.test", "internal.example.test"} {
		t.Run(redirectTo, func(t *testing.T) {
			n := newFakeNet()
			n.host("registry.example.test", "203.0.113.7")
			n.host("cdn.example.test", "203.0.113.9")
			n.host("internal.example.test", "10.9.9.9")
			n.route("10.0.0.3:3128", proxySrv)
			h := n.hooks()
			h.proxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://10.0.0.3:3128") }
			opts := testOptions()
			opts.Insecure = true
			opts.net = h
			regHandler = redirectBlobs("http://"+redirectTo, back)
			ref := mustRef(t, "registry.example.test/app/x:1")
			if err := Push(context.Background(), ref, randomImage(t), opts); err != nil {
				t.Fatalf("Push through a proxy on 10.0.0.3 = %v", err)
			}
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			proxied = nil
			mu.Unlock()
			err = pullAll(context.Background(), p, ref)
			mu.Lock()
			defer mu.Unlock()
			if redirectTo == "cdn.example.test" {
				if err != nil {
					t.Fatalf("pull through a proxy on 10.0.0.3 = %v", err)
				}
				if !strings.Contains(strings.Join(proxied, " "), "cdn.example.test") {
					t.Errorf("the proxy carried %v, want the redirect to cdn.example.test too", proxied)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "private address (10.9.9.9)") {
				t.Errorf("pull redirected to %s through a proxy = %v, want refused", redirectTo, err)
			}
			if strings.Contains(strings.Join(proxied, " "), redirectTo) {
				t.Errorf("the proxy was asked for %s", redirectTo)
			}
		})
	}
}

// TestPrivateAddr pins what counts as the local network.
func TestPrivateAddr(t *testing.T) {
	tests := []struct {
		ip      string
		private bool
	}{
		{"203.0.113.5", false},
		{"8.8.8.8", false},
		{"100.128.0.1", false},
		{"2001:db8::1", false},
		{"127.0.0.1", true},
		{"127.5.5.5", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"100.100.100.200", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::1", true},
		{"::", true},
		{"fe80::1", true},
		{"fd00::1", true},
		{"fec0::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"64:ff9b::a9fe:a9fe", true},
		{"64:ff9b::808:808", false},
		{"2002:a9fe:a9fe::1", true},
		{"2002:808:808::1", false},
	}
	for _, tt := range tests {
		if got := privateAddr(netip.MustParseAddr(tt.ip)); got != tt.private {
			t.Errorf("privateAddr(%s) = %v, want %v", tt.ip, got, tt.private)
		}
	}
}

// TestDialRefusalIsTyped: a refused dial is an *Error, so classify keeps its words whole.
func TestDialRefusalIsTyped(t *testing.T) {
	d := newDialer(newFakeNet().hooks())
	_, err := d.dial(context.WithValue(context.Background(), fromKey{}, "registry.example.test"), "tcp", "127.0.0.1:80", true)
	var e *Error
	if !errors.As(err, &e) || e.Msg != "refusing to go from registry.example.test to private address 127.0.0.1" {
		t.Errorf("dial = %v, want the refusal as an *Error", err)
	}
	if got := classify(fmt.Errorf("Get x: %w", err), opPull, "blob", "r", "h"); got.Error() != e.Msg {
		t.Errorf("classify = %q, want %q", got, e.Msg)
	}
}

// TestDialTriesEachAddress: of a name's addresses, a guarded dial skips the private ones and
// goes on to the next when one does not answer, as net.Dialer does.
func TestDialTriesEachAddress(t *testing.T) {
	n := newFakeNet()
	srv := newServer(t, http.NotFoundHandler())
	n.host("cdn.example.test", "10.0.0.1,203.0.113.5,203.0.113.6")
	n.route("10.0.0.1:80", srv)
	n.route("203.0.113.6:80", srv)
	d := newDialer(n.hooks())
	conn, err := d.dial(context.Background(), "tcp", "cdn.example.test:80", true)
	if err != nil {
		t.Fatalf("dial = %v, want the third address", err)
	}
	conn.Close()
	if public, known := d.publicName("cdn.example.test"); !public || !known {
		t.Errorf("cdn.example.test after a dial to 203.0.113.6: public %v, known %v", public, known)
	}
	// Unguarded, the first address that answers wins, private or not.
	n.host("registry.corp", "203.0.113.5,10.0.0.1")
	if conn, err := d.dial(context.Background(), "tcp", "registry.corp:80", false); err != nil {
		t.Errorf("unguarded dial = %v", err)
	} else {
		conn.Close()
	}
}

// TestDialFallsBackToOtherFamily: a host whose IPv6 address swallows connections is reached
// over IPv4 after a moment, not after the IPv6 address's share of the dial timeout.
func TestDialFallsBackToOtherFamily(t *testing.T) {
	n := newFakeNet()
	srv := newServer(t, http.NotFoundHandler())
	n.host("cdn.example.test", "2001:db8::1,203.0.113.6")
	n.mu.Lock()
	n.routes["[2001:db8::1]:80"] = blackhole
	n.mu.Unlock()
	n.route("203.0.113.6:80", srv)
	d := newDialer(n.hooks())
	start := time.Now()
	conn, err := d.dial(context.Background(), "tcp", "cdn.example.test:80", true)
	if err != nil {
		t.Fatalf("dial = %v, want the IPv4 address", err)
	}
	conn.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("dial took %v, want about %v", took, fallbackDelay)
	}
	// Both families dead: the first family's error, at once for a refusal.
	n.host("dead.example.test", "2001:db8::2,203.0.113.7")
	if _, err := d.dial(context.Background(), "tcp", "dead.example.test:80", true); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial of a dead host = %v, want connection refused", err)
	}
}
