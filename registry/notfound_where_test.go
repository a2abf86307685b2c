package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestTokenEndpointFailureNamesTheRealm: when the realm of a Bearer challenge (Docker Hub's
// auth.docker.io, or a realm a registry names wrongly) answers 404 or 5xx, the pull says that
// fetching a token from that realm failed. It used to read "manifest for … not found", as if
// the image did not exist, and was ErrNotFound.
func TestTokenEndpointFailureNamesTheRealm(t *testing.T) {
	for _, tt := range []struct {
		name      string
		challenge string // %s is the registry's host
		token     http.HandlerFunc
		want      string // %s is the registry's host
	}{
		{
			name:      "404",
			challenge: `Bearer realm="http://%s/token",service="test"`,
			token:     func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			want:      "fetching a token from http://%s/token: HTTP 404 Not Found",
		},
		{
			name:      "404 without service",
			challenge: `Bearer realm="http://%s/token"`,
			token:     func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			want:      "fetching a token from http://%s/token: HTTP 404 Not Found",
		},
		{
			name:      "404 with registry errors",
			challenge: `Bearer realm="http://%s/token",service="test"`,
			token: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"no such realm"}]}`)
			},
			want: "fetching a token from http://%s/token: HTTP 404 Not Found: NAME_UNKNOWN: no such realm",
		},
		{
			name:      "404 after the realm redirected",
			challenge: `Bearer realm="http://%s/token",service="test"`,
			token: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					http.Redirect(w, r, "/moved?"+r.URL.RawQuery, http.StatusFound)
					return
				}
				http.NotFound(w, r)
			},
			want: "fetching a token from http://%s/token: HTTP 404 Not Found",
		},
		{
			name:      "503",
			challenge: `Bearer realm="http://%s/token",service="test"`,
			token: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "down", http.StatusServiceUnavailable)
			},
			want: "fetching a token from http://%s/token: HTTP 503 Service Unavailable",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !strings.HasPrefix(r.URL.Path, "/v2/") {
						tt.token(w, r)
						return
					}
					if r.Header.Get("Authorization") == "" {
						w.Header().Set("WWW-Authenticate", fmt.Sprintf(tt.challenge, r.Host))
						http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			ref := mustRef(t, host+"/realm/app:1")
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Image(context.Background(), ref)
			if err == nil {
				t.Fatalf("Image(%s) with a failing token endpoint = no error", ref)
			}
			msg := err.Error()
			want := fmt.Sprintf(tt.want, host)
			if msg != want {
				t.Errorf("Image(%s) = %q, want %q", ref, msg, want)
			}
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnauthorized) {
				t.Errorf("Image(%s) = %q, is ErrNotFound or ErrUnauthorized; want neither: the token endpoint failed, not the image or the credentials", ref, msg)
			}
		})
	}
}

// TestTokenEndpointRefusalStaysUnauthorized: a realm that refuses the credentials (401) is
// still ErrUnauthorized with the login hint: there the credentials are what to fix.
func TestTokenEndpointRefusalStaysUnauthorized(t *testing.T) {
	ts := &tokenServer{user: "alice", pass: "s3cret"}
	host := serve(t, ts.wrap)
	ref := mustRef(t, host+"/realm/app:1")
	p, err := NewPuller(withAuth("alice", "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Image(context.Background(), ref)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "strata login "+host) ||
		strings.Contains(err.Error(), "fetching a token") {
		t.Errorf("Image(%s) with wrong credentials = %v, want ErrUnauthorized with the login hint", ref, err)
	}
}

// TestBlobNotFoundAtRedirectNamesTheHost: a registry that redirects its blob GETs to another
// host (Docker Hub to its CDN), which answers 404, gets a message naming the blob and that
// host, not the generic "blob … in … not found" of a URL that need not hold the digest.
func TestBlobNotFoundAtRedirectNamesTheHost(t *testing.T) {
	img := randomImage(t)
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0])
	cdn := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(cdn.Close)
	cdnHost := strings.TrimPrefix(cdn.URL, "http://")
	for _, tt := range []struct {
		name    string
		missing v1.Hash
	}{
		{"config", cfg},
		{"layer", layer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var redirect atomic.Bool
			host := serve(t, redirectBlob(&redirect, tt.missing, cdn.URL))
			ref := pushImage(t, host+"/cdn/app:1", img)
			redirect.Store(true)
			err := fetchMissing(t, ref, tt.missing, layer)
			if err == nil {
				t.Fatalf("pull of an image whose %s the CDN lacks = no error", tt.name)
			}
			msg := err.Error()
			want := fmt.Sprintf("blob %s:%s not found at %s (redirected from %s)", tt.missing.Algorithm, tt.missing.Hex[:12], cdnHost, host)
			if !errors.Is(err, ErrNotFound) || !strings.Contains(msg, want) || strings.Contains(msg, "sig=") {
				t.Errorf("error = %q, want ErrNotFound saying %q", msg, want)
			}
		})
	}
}

// TestBlobRefusedAtRedirectNamesTheHost: the host a blob GET was redirected to refusing it (a
// CDN's 403 for a signed URL that expired) or failing is reported as that host's answer for
// that blob, not as the registry denying access ("run `strata login`"), nor as the registry's
// own failure.
func TestBlobRefusedAtRedirectNamesTheHost(t *testing.T) {
	img := randomImage(t)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0])
	for _, status := range []int{http.StatusForbidden, http.StatusUnauthorized, http.StatusBadGateway} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "<Error><Code>AccessDenied</Code></Error>", status)
			}))
			t.Cleanup(cdn.Close)
			cdnHost := strings.TrimPrefix(cdn.URL, "http://")
			var redirect atomic.Bool
			host := serve(t, redirectBlob(&redirect, layer, cdn.URL))
			ref := pushImage(t, host+"/cdn/app:1", img)
			redirect.Store(true)
			err := fetchMissing(t, ref, layer, layer)
			if err == nil {
				t.Fatalf("FetchBlob(%s) from a CDN answering %d = no error", layer, status)
			}
			msg := err.Error()
			want := fmt.Sprintf("blob %s:%s: HTTP %d %s from %s (redirected from %s)",
				layer.Algorithm, layer.Hex[:12], status, http.StatusText(status), cdnHost, host)
			if msg != want || errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrNotFound) {
				t.Errorf("FetchBlob(%s) = %q, want %q, neither ErrUnauthorized nor ErrNotFound", layer, msg, want)
			}
		})
	}
}
