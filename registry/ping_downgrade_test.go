package registry

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPingDowngradeRefused: a registry asked over https whose ping (GET /v2/) redirects to
// plain http. go-containerregistry took the scheme of the ping's last URL for the registry's,
// so every later request of a pull, a push or a login went in clear to port 80, the user's
// credentials with it. Each fails in one line naming the redirect; nothing with credentials
// reaches the plain-http server. An insecure registry, allowed plain http, still works.
func TestPingDowngradeRefused(t *testing.T) {
	back := basicAuth("alice", "s3cret")(backend())
	var plainAuth atomic.Int64
	plain := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			plainAuth.Add(1)
		}
		back.ServeHTTP(w, r)
	}))
	// httptest's certificate names example.com.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			http.Redirect(w, r, "http://example.com/v2/", http.StatusMovedPermanently)
			return
		}
		back.ServeHTTP(w, r)
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	n := newFakeNet()
	n.host("example.com", "203.0.113.7")
	n.route("203.0.113.7:443", tlsSrv)
	n.route("203.0.113.7:80", plain)
	roots := x509.NewCertPool()
	roots.AddCert(tlsSrv.Certificate())
	opts := withAuth("alice", "s3cret")
	opts.net = n.hooks()
	opts.net.roots = roots
	ref := mustRef(t, "example.com/app/x:1")

	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "plain http") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s = %v, want one line refusing the redirect to plain http", what, err)
		}
		if n := plainAuth.Swap(0); n != 0 {
			t.Errorf("%s: %d requests with credentials went in clear", what, n)
		}
	}
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Image(context.Background(), ref)
	check("Image", err)
	check("Push", Push(context.Background(), ref, randomImage(t), opts))
	check("Login", verifyLogin(context.Background(), "example.com", "alice", "s3cret", opts))

	// Named insecure, the registry is spoken to in plain http, as asked.
	opts.InsecureRegistries = []string{"example.com"}
	img := randomImage(t)
	if err := Push(context.Background(), ref, img, opts); err != nil {
		t.Fatalf("Push to an insecure registry = %v", err)
	}
	p, err = NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil || got.Descriptor.Digest != digestOf(t, img) {
		t.Errorf("Image from an insecure registry = %v, want digest %s", err, digestOf(t, img))
	}
}
