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
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// keychain hands out one authenticator for every registry, so tests never read the
// user's ~/.docker/config.json.
type keychain struct{ auth authn.Authenticator }

func (k keychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }

// fastRetry keeps retry tests quick: the backoff and the Retry-After cap are milliseconds.
var fastRetry = retryPolicy{attempts: 4, backoff: time.Millisecond, maxRetryAfter: 5 * time.Millisecond}

// testOptions are anonymous, fast-retrying options for a test.
func testOptions() Options {
	return Options{Keychain: keychain{authn.Anonymous}, retry: &fastRetry}
}

// serve starts go-containerregistry's in-memory registry on 127.0.0.1, behind wrap if not nil,
// and returns its host:port. Loopback hosts speak plain HTTP by default, as with Docker.
func serve(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func mustRef(t testing.TB, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatalf("ParseReference(%q) = %v", s, err)
	}
	return r
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatalf("random.Image: %v", err)
	}
	return img
}

// pushImage pushes img to ref with strata's own Push.
func pushImage(t *testing.T, ref string, img v1.Image) Reference {
	t.Helper()
	r := mustRef(t, ref)
	if err := Push(context.Background(), r, img, testOptions()); err != nil {
		t.Fatalf("Push(%s) = %v", r, err)
	}
	return r
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return h
}

// counter counts requests whose path contains a substring.
type counter struct {
	sub string
	n   atomic.Int64
}

func (c *counter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, c.sub) {
			c.n.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// fetchMissing pulls ref and reads the blob missing from it: the layer with FetchBlob, else
// the config. It returns the first error.
func fetchMissing(t *testing.T, ref Reference, missing, layer v1.Hash) error {
	t.Helper()
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		return err
	}
	if missing == layer {
		rc, err := got.FetchBlob(context.Background(), layer, 0)
		if err == nil {
			rc.Close()
		}
		return err
	}
	_, err = got.RawConfigFile()
	return err
}

// redirectBlob makes a registry (a serve wrapper) redirect its GETs of blob d, once redirect
// is set, to the host at url, as Docker Hub does to its CDN: a path and a signed query, no
// "/blobs/DIGEST".
func redirectBlob(redirect *atomic.Bool, d v1.Hash, url string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if redirect.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
				http.Redirect(w, r, url+"/registry-v2/data/"+d.Hex+"?sig=abc", http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
