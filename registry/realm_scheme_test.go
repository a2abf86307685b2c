package registry

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// TestRealmOffTLSRefused pins what a registry reached over HTTPS gets for a Bearer realm on
// plain http://: the token request, with the user's credentials, would cross the network
// in clear, so it is refused (go-containerregistry's check), the realm is never asked, and
// the pull fails in one line naming the scheme.
func TestRealmOffTLSRefused(t *testing.T) {
	var asked atomic.Int64
	realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		io.WriteString(w, `{"token":"t"}`)
	}))
	t.Cleanup(realm.Close)
	backend := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`/token",service="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	p, err := NewPuller(withAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Image(context.Background(), mustRef(t, host+"/private/app:1"))
	if err == nil || !strings.Contains(err.Error(), `"http"`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("Image with a realm on http:// = %v, want one line refusing its scheme", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the realm on plain http:// was asked %d times", n)
	}
}
