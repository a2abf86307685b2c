package registry

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckRedirect: a public registry may redirect to another public host (a CDN), never to
// the local network, whether the target is an address or a name that resolves to one.
func TestCheckRedirect(t *testing.T) {
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"registry.example.com", "cdn.example.net", true},
		{"registry.example.com", "203.0.113.5", true},
		{"registry.example.com", "registry.example.com", true},
		{"registry.example.com", "127.0.0.1", false},
		{"registry.example.com", "169.254.169.254", false},
		{"registry.example.com", "10.1.2.3", false},
		{"203.0.113.7", "100.100.100.200", false},
		{"203.0.113.7", "100.128.0.1", true},
		{"registry.example.com", "::1", false},
		{"registry.example.com", "localhost", false},
		// A registry on the local network may send anywhere: it is already inside.
		{"127.0.0.1", "10.1.2.3", true},
		{"192.168.1.10", "localhost", true},
	}
	for _, tt := range tests {
		t.Run(tt.from+"->"+tt.to, func(t *testing.T) {
			err := checkRedirect(context.Background(), tt.from, tt.to)
			if (err == nil) != tt.ok {
				t.Errorf("checkRedirect(%s, %s) = %v, want allowed %v", tt.from, tt.to, err, tt.ok)
			}
		})
	}
}

// TestCheckRedirectResolvesNames: a name that is not an address but resolves to a private
// one (DNS pointing at 127.0.0.1, as rebinding tricks do) is private too. This host's own
// name, which /etc/hosts maps to a loopback address here, stands in for one.
func TestCheckRedirectResolvesNames(t *testing.T) {
	name, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(context.Background(), name)
	if err != nil || len(addrs) == 0 || !isPrivate(addrs[0].IP.String()) {
		t.Skipf("host name %s does not resolve to a private address here (%v, %v)", name, addrs, err)
	}
	if err := checkRedirect(context.Background(), "registry.example.com", name); err == nil {
		t.Errorf("checkRedirect to %s (%s) = nil, want it refused", name, addrs[0].IP)
	}
	// And a registry whose name resolves into the local network is in it: its token
	// server and blob store may be too.
	if err := checkRedirect(context.Background(), name, "10.1.2.3"); err != nil {
		t.Errorf("checkRedirect from %s (%s) to 10.1.2.3 = %v, want it allowed", name, addrs[0].IP, err)
	}
}

// TestRedirectGuard: the guard at the bottom of the transport stack refuses a request that
// follows a redirect from a public host to a local one, before it is sent.
func TestRedirectGuard(t *testing.T) {
	var hits atomic.Int64
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(local.Close)
	g := &redirectGuard{inner: http.DefaultTransport}

	origin := httptest.NewRequest(http.MethodGet, "https://registry.example.com/v2/x/manifests/1", nil)
	followed, err := http.NewRequest(http.MethodGet, local.URL+"/metadata", nil)
	if err != nil {
		t.Fatal(err)
	}
	followed.Response = &http.Response{StatusCode: http.StatusTemporaryRedirect, Request: origin}
	if resp, err := g.RoundTrip(followed); err == nil {
		resp.Body.Close()
		t.Errorf("RoundTrip of a redirect from %s to %s succeeded, want it refused", origin.URL.Host, followed.URL.Host)
	}
	if hits.Load() != 0 {
		t.Errorf("the local server was asked %d times", hits.Load())
	}

	// A first request, and a redirect between local hosts, go through.
	direct, err := http.NewRequest(http.MethodGet, local.URL+"/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := g.RoundTrip(direct)
	if err != nil {
		t.Fatalf("RoundTrip of a first request = %v", err)
	}
	resp.Body.Close()
}

// TestHomeGuard: a public registry's session cannot reach the local network by any URL it
// names, a Bearer realm included; a local registry's session can (its token server is local
// too).
func TestHomeGuard(t *testing.T) {
	var hits atomic.Int64
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(local.Close)
	req := func() *http.Request {
		r, err := http.NewRequest(http.MethodGet, local.URL+"/token?service=x", nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if resp, err := guardHome(http.DefaultTransport, "registry.example.com").RoundTrip(req()); err == nil {
		resp.Body.Close()
		t.Error("a session of registry.example.com reached 127.0.0.1")
	}
	if hits.Load() != 0 {
		t.Fatalf("the local server was asked %d times", hits.Load())
	}
	resp, err := guardHome(http.DefaultTransport, "127.0.0.1:5000").RoundTrip(req())
	if err != nil {
		t.Fatalf("a session of a local registry = %v, want it to reach its local token server", err)
	}
	resp.Body.Close()
}

// TestPushEndlessRedirect: a registry that redirects its manifests in a loop fails a push
// after net/http's 10 redirects. go-containerregistry's own clients follow redirects with no
// limit, so without the transport's count the push's manifest HEAD never returned.
func TestPushEndlessRedirect(t *testing.T) {
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				http.Redirect(w, r, r.URL.Path+"x", http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := Push(ctx, mustRef(t, host+"/loop/app:1"), randomImage(t), testOptions())
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("Push to a registry redirecting in a loop = %v, want stopped after 10 redirects", err)
	}
}
