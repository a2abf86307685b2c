package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRelayedRealmRedirectKeepsCredentials: a token service on the local network, relayed
// (TestTokenRealmOnAnotherLocalPort), that redirects the token request to another host does
// not send the user's credentials there: credentials never follow a redirect to another host
// (docs/registries.md), as they do not from a realm that is not relayed. The relay made the
// redirect look like one to the registry's own host, and forwarded the Authorization header
// with it.
func TestRelayedRealmRedirectKeepsCredentials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	var leaked atomic.Value
	ts := &tokenServer{}
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked.Store(a)
		}
		ts.token(w, r)
	}))
	other.Listener.Close()
	other.Listener = ln
	other.Start()
	t.Cleanup(other.Close)
	tokenSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			http.Error(w, "credentials wanted", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, other.URL+"/token?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	}))
	back := backend()
	regSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		ok := ts.issued[tok]
		ts.mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/auth",service="registry"`, tokenSrv.URL))
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		back.ServeHTTP(w, r)
	}))
	plain := newServer(t, back)
	pushImage(t, strings.TrimPrefix(plain.URL, "http://")+"/app/x:1", randomImage(t))

	p, err := NewPuller(withAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, strings.TrimPrefix(regSrv.URL, "http://")+"/app/x:1")
	if err := pullAll(context.Background(), p, ref); err != nil {
		t.Fatalf("pull = %v", err)
	}
	if ts.requests.Load() == 0 {
		t.Fatal("the redirect's target was never asked for a token")
	}
	if a := leaked.Load(); a != nil {
		t.Errorf("the token request redirected to %s carried Authorization %q", other.URL, a)
	}
}
