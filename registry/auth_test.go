package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
)

// basicAuth guards a registry with HTTP basic auth for user:pass.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tokenServer is a bearer-token realm in front of a registry, as Docker Hub's auth.docker.io:
// /v2/ answers 401 with a Bearer challenge whose realm is /token on the same server; /token
// checks the basic credentials (if any are required) and issues a token; the registry accepts
// only issued tokens.
type tokenServer struct {
	user, pass string // "" means anonymous tokens are issued
	requests   atomic.Int64

	mu     sync.Mutex
	issued map[string]bool
}

func (ts *tokenServer) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			ts.token(w, r)
			return
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ts.mu.Lock()
		ok := ts.issued[tok]
		ts.mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (ts *tokenServer) token(w http.ResponseWriter, r *http.Request) {
	n := ts.requests.Add(1)
	if ts.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != ts.user || p != ts.pass {
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`, http.StatusUnauthorized)
			return
		}
	}
	tok := fmt.Sprintf("token-%d", n)
	ts.mu.Lock()
	if ts.issued == nil {
		ts.issued = map[string]bool{}
	}
	ts.issued[tok] = true
	ts.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

func withAuth(user, pass string) Options {
	o := testOptions()
	o.Keychain = keychain{authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})}
	return o
}

func TestBasicAuth(t *testing.T) {
	host := serve(t, basicAuth("alice", "s3cret"))
	ref := mustRef(t, host+"/private/app:1")
	img := randomImage(t)
	if err := Push(context.Background(), ref, img, withAuth("alice", "s3cret")); err != nil {
		t.Fatalf("Push with credentials = %v", err)
	}

	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"right credentials", withAuth("alice", "s3cret"), true},
		{"wrong password", withAuth("alice", "nope"), false},
		{"anonymous", testOptions(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPuller(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), ref)
			if tt.ok {
				if err != nil || got.Descriptor.Digest != digestOf(t, img) {
					t.Fatalf("Image(%s) = %v, want digest %s", ref, err, digestOf(t, img))
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Image(%s) = %v, want ErrUnauthorized", ref, err)
			}
			if want := "strata login " + host; !strings.Contains(err.Error(), want) {
				t.Errorf("Image(%s) = %q, want it to say %q", ref, err, want)
			}
		})
	}
}

func TestBearerTokenOncePerCommand(t *testing.T) {
	ts := &tokenServer{user: "bob", pass: "pw"}
	host := serve(t, ts.wrap)
	ref := mustRef(t, host+"/team/app:1")
	img := randomImage(t)
	if err := Push(context.Background(), ref, img, withAuth("bob", "pw")); err != nil {
		t.Fatalf("Push = %v", err)
	}

	before := ts.requests.Load()
	p, err := NewPuller(withAuth("bob", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Head(ctx, ref); err != nil {
		t.Fatalf("Head = %v", err)
	}
	got, err := p.Image(ctx, ref)
	if err != nil {
		t.Fatalf("Image = %v", err)
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		// Both ways a caller reads a blob: go-containerregistry's lazy layer and FetchBlob.
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("Compressed = %v", err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("reading layer = %v", err)
		}
		body, err := got.FetchBlob(ctx, digestOf(t, l), 0)
		if err != nil {
			t.Fatalf("FetchBlob = %v", err)
		}
		body.Close()
	}
	if _, err := got.ConfigFile(); err != nil {
		t.Fatal(err)
	}
	if n := ts.requests.Load() - before; n != 1 {
		t.Errorf("token requests for one command with %d layers = %d, want 1", len(layers), n)
	}

	p, err = NewPuller(withAuth("bob", "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(ctx, ref); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "strata login "+host) {
		t.Errorf("Image with a wrong password = %v, want ErrUnauthorized saying to log in", err)
	}
}

func TestAnonymousBearer(t *testing.T) {
	// Docker Hub's flow for public images: a token without credentials.
	ts := &tokenServer{}
	host := serve(t, ts.wrap)
	img := randomImage(t)
	ref := pushImage(t, host+"/library/pub:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil || got.Descriptor.Digest != digestOf(t, img) {
		t.Fatalf("Image(%s) = %v, want digest %s", ref, err, digestOf(t, img))
	}
}
