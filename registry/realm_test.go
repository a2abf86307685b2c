package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestTokenRealmOnAnotherLocalPort: a registry on the local network whose token service is
// another port of a private address (registry:2 with docker_auth beside it on :5001, a test
// registry with its token server on another 127.0.0.1 port) is pulled from, credentials and
// all, as docs/registries.md says and docker does. go-containerregistry refuses such a realm
// on its own ("realm host is a private or link-local address"), whatever the registry's
// address; strata's own rule, on the address each connection lands on, decides instead.
func TestTokenRealmOnAnotherLocalPort(t *testing.T) {
	for _, tt := range []struct{ creds, redirect bool }{{false, false}, {true, false}, {true, true}} {
		creds := tt.creds
		t.Run(fmt.Sprintf("credentials=%v,redirect=%v", tt.creds, tt.redirect), func(t *testing.T) {
			back := backend()
			ts := &tokenServer{}
			opts := testOptions()
			if creds {
				ts.user, ts.pass = "alice", "s3cret"
				opts = withAuth("alice", "s3cret")
			}
			tokenSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/auth/moved" {
					// Relative: the token service's own path, not the registry's.
					http.Redirect(w, r, "/auth/token?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
					return
				}
				if r.URL.Path != "/auth/token" || r.URL.Query().Get("service") != "registry" || !strings.Contains(r.URL.Query().Get("scope"), "app/x:pull") {
					http.Error(w, "unexpected token request "+r.URL.String(), http.StatusBadRequest)
					return
				}
				ts.token(w, r)
			}))
			realm := tokenSrv.URL + "/auth/token"
			if tt.redirect {
				realm = tokenSrv.URL + "/auth/moved"
			}
			regSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				ts.mu.Lock()
				ok := ts.issued[tok]
				ts.mu.Unlock()
				if !ok {
					w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s",service="registry"`, realm))
					http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
					return
				}
				back.ServeHTTP(w, r)
			}))
			// The image goes in through the backend's own server, without auth.
			plain := newServer(t, back)
			img := randomImage(t)
			pushImage(t, strings.TrimPrefix(plain.URL, "http://")+"/app/x:1", img)

			host := strings.TrimPrefix(regSrv.URL, "http://")
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			ref := mustRef(t, host+"/app/x:1")
			if err := pullAll(context.Background(), p, ref); err != nil {
				t.Fatalf("pull from %s, its token service at %s = %v", host, realm, err)
			}
			if ts.requests.Load() == 0 {
				t.Error("the token service was never asked")
			}
		})
	}
}
