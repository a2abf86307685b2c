package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// isUpload reports whether r continues a blob upload (a PATCH or the PUT that commits it).
func isUpload(r *http.Request) bool {
	return strings.Contains(r.URL.Path, "/blobs/uploads/") && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
}

// isStart reports whether r starts a blob upload.
func isStart(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/")
}

// headerRewriter lets a test change the headers of an answer just before they are sent.
type headerRewriter struct {
	http.ResponseWriter
	rewrite func(h http.Header, code int) int
	done    bool
}

func (h *headerRewriter) WriteHeader(code int) {
	if !h.done {
		h.done = true
		code = h.rewrite(h.Header(), code)
	}
	h.ResponseWriter.WriteHeader(code)
}

func (h *headerRewriter) Write(b []byte) (int, error) {
	if !h.done {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(b)
}

func rewriting(w http.ResponseWriter, f func(h http.Header, code int) int) http.ResponseWriter {
	return &headerRewriter{ResponseWriter: w, rewrite: f}
}

// TestPushRedteamUploads pushes to registries that answer the upload flow oddly or wrongly:
// the odd but lawful answers push; the wrong ones fail with one line, well within a bound.
func TestPushRedteamUploads(t *testing.T) {
	huge := strings.Repeat("x", 8<<20)
	tests := []struct {
		name    string
		handle  func(w http.ResponseWriter, r *http.Request, next http.Handler, host string)
		wantErr string // "" for a push that must succeed
	}{
		{"202 without Location", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if isStart(r) {
				w = rewriting(w, func(h http.Header, code int) int { h.Del("Location"); return code })
			}
			next.ServeHTTP(w, r)
		}, "Location"},
		{"relative Location", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if isStart(r) {
				w = rewriting(w, func(h http.Header, code int) int {
					u, _ := url.Parse(h.Get("Location"))
					h.Set("Location", u.RequestURI())
					return code
				})
			}
			next.ServeHTTP(w, r)
		}, ""},
		{"absolute Location", func(w http.ResponseWriter, r *http.Request, next http.Handler, host string) {
			if isStart(r) {
				w = rewriting(w, func(h http.Header, code int) int {
					u, _ := url.Parse(h.Get("Location"))
					h.Set("Location", "http://"+host+u.RequestURI())
					return code
				})
			}
			next.ServeHTTP(w, r)
		}, ""},
		{"Location query kept", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if isStart(r) || r.Method == http.MethodPatch {
				w = rewriting(w, func(h http.Header, code int) int {
					u, _ := url.Parse(h.Get("Location"))
					q := u.Query()
					q.Set("_state", "opaque+/=")
					u.RawQuery = q.Encode()
					h.Set("Location", u.String())
					return code
				})
			}
			if isUpload(r) && r.URL.Query().Get("_state") != "opaque+/=" {
				http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"state lost"}]}`, http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, r)
		}, ""},
		{"416 on PATCH", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if r.Method == http.MethodPatch {
				http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"range not satisfiable"}]}`, http.StatusRequestedRangeNotSatisfiable)
				return
			}
			next.ServeHTTP(w, r)
		}, "range not satisfiable"},
		{"commit answered 202", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if r.Method == http.MethodPut && isUpload(r) {
				w.Header().Set("Location", r.URL.String())
				w.WriteHeader(http.StatusAccepted)
				return
			}
			next.ServeHTTP(w, r)
		}, "202"},
		{"commit answered with another digest", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if r.Method == http.MethodPut && isUpload(r) {
				w = rewriting(w, func(h http.Header, code int) int {
					h.Set("Docker-Content-Digest", "sha256:"+strings.Repeat("ab", 32))
					return code
				})
			}
			next.ServeHTTP(w, r)
		}, "answered with digest sha256:abab"},
		{"commit answered with its digest in capitals", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if r.Method == http.MethodPut && isUpload(r) {
				w = rewriting(w, func(h http.Header, code int) int {
					h.Set("Docker-Content-Digest", strings.ToUpper(r.URL.Query().Get("digest")))
					return code
				})
			}
			next.ServeHTTP(w, r)
		}, ""},
		{"401 after POST", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if r.Method == http.MethodPatch {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		}, "denied"},
		{"MANIFEST_INVALID", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				http.Error(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unsupported media type\napplication/vnd.oci.image.manifest.v1+json"}]}`, http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, r)
		}, "manifest invalid"},
		{"huge error body", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if isStart(r) {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(huge))
				return
			}
			next.ServeHTTP(w, r)
		}, "400"},
		{"huge error body on manifest PUT", func(w http.ResponseWriter, r *http.Request, next http.Handler, _ string) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_INVALID","message":"` + huge + `"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		}, "413"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var host string
			host = serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					tt.handle(w, r, next, host)
				})
			})
			ref := mustRef(t, host+"/red/upload:1")
			var err error
			within(t, 30*time.Second, func() {
				err = Push(context.Background(), ref, randomImage(t), testOptions())
			})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Push = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Push succeeded")
			}
			msg := err.Error()
			t.Logf("Push = %s", msg)
			if !strings.Contains(msg, tt.wantErr) || strings.ContainsAny(msg, "\n\r\x1b") || len(msg) > 1000 {
				t.Errorf("Push = %q (%d bytes), want one short line saying %q", msg, len(msg), tt.wantErr)
			}
			// Nothing under the tag.
			if _, herr := mustPuller(t).Head(context.Background(), ref); herr == nil && !strings.Contains(tt.name, "MANIFEST") && !strings.Contains(tt.name, "manifest") {
				t.Errorf("the failed push left %s tagged", ref)
			}
		})
	}
}

func mustPuller(t *testing.T) *Puller {
	t.Helper()
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPushCredentialsStayHome: a registry that sends the upload, or the manifest PUT, to
// another host:port (by Location or by redirect) gets the bytes sent there, but never the
// credentials strata holds for it.
func TestPushCredentialsStayHome(t *testing.T) {
	for _, how := range []string{"upload Location", "manifest redirect", "blob PUT redirect"} {
		t.Run(how, func(t *testing.T) {
			var (
				mu     sync.Mutex
				leaked []string
				hits   int
			)
			var homeHandler http.Handler
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits++
				mu.Unlock()
				if a := r.Header.Get("Authorization"); a != "" {
					mu.Lock()
					leaked = append(leaked, r.Method+" "+r.URL.Path+": "+a)
					mu.Unlock()
				}
				// Serve as the registry would, without its auth check.
				r.Header.Set("Authorization", basicHeader("alice", "s3cret"))
				homeHandler.ServeHTTP(w, r)
			}))
			t.Cleanup(other.Close)
			otherHost := strings.TrimPrefix(other.URL, "http://")
			home := serve(t, func(next http.Handler) http.Handler {
				auth := basicAuth("alice", "s3cret")(next)
				homeHandler = next
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch {
					case how == "upload Location" && isStart(r):
						w = rewriting(w, func(h http.Header, code int) int {
							u, _ := url.Parse(h.Get("Location"))
							h.Set("Location", "http://"+otherHost+u.RequestURI())
							return code
						})
					case how == "manifest redirect" && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"),
						how == "blob PUT redirect" && r.Method == http.MethodPut && isUpload(r):
						if _, _, ok := r.BasicAuth(); ok {
							http.Redirect(w, r, "http://"+otherHost+r.URL.RequestURI(), http.StatusTemporaryRedirect)
							return
						}
					}
					auth.ServeHTTP(w, r)
				})
			})
			opts := testOptions()
			opts.Keychain = keychain{authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "s3cret"})}
			var err error
			within(t, 30*time.Second, func() {
				err = Push(context.Background(), mustRef(t, home+"/red/creds:1"), randomImage(t), opts)
			})
			t.Logf("Push = %v", err)
			if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("Push = %q, want one line", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if hits == 0 {
				t.Errorf("nothing reached %s: the test sent nothing elsewhere", otherHost)
			}
			if len(leaked) > 0 {
				t.Errorf("credentials sent to %s: %v", otherHost, leaked)
			}
		})
	}
}

func basicHeader(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// TestPushIndexChildRefused: a registry that refuses one platform's manifest of an index fails
// the push naming the refusal in one line, and the index's tag is not written.
func TestPushIndexChildRefused(t *testing.T) {
	a, b := randomImage(t), randomImage(t)
	refusedDigest := digestOf(t, b)
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+refusedDigest.String()) {
				http.Error(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"no"}]}`, http.StatusBadRequest)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: a, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
		mutate.IndexAddendum{Add: b, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}})
	ref := mustRef(t, host+"/red/index:1")
	err := PushIndex(context.Background(), ref, idx, testOptions())
	if err == nil || strings.ContainsAny(err.Error(), "\n\r") || !strings.Contains(err.Error(), "manifest invalid") {
		t.Fatalf("PushIndex = %v, want one line saying the manifest is invalid", err)
	}
	if _, herr := mustPuller(t).Head(context.Background(), ref); herr == nil {
		t.Errorf("the failed index push left %s tagged", ref)
	}
}

// TestPushHeadLiesAboutSize: a registry whose HEAD says it has a layer, or the config, but of
// another size or under another digest, has something else under that digest: the push fails in one line naming the
// blob, rather than skip the upload and tag a manifest naming a blob the registry cannot serve.
func TestPushHeadLiesAboutSize(t *testing.T) {
	img := randomImage(t)
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	for _, which := range []string{"layers", "config", "digest"} {
		t.Run(which, func(t *testing.T) {
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
					if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/sha256:") && which == "digest" {
						w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("ab", 32))
						w.WriteHeader(http.StatusOK)
						return
					}
					if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/sha256:") &&
						(which == "layers") == (d != cfg.String()) {
						w.Header().Set("Content-Length", "3")
						w.Header().Set("Docker-Content-Digest", d)
						w.WriteHeader(http.StatusOK)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			want := "as 3 bytes"
			if which == "digest" {
				want = "with digest sha256:abab"
			}
			for _, index := range []bool{false, true} {
				ref := mustRef(t, host+"/red/head:1")
				var err error
				if index {
					idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img,
						Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
					err = PushIndex(context.Background(), ref, idx, testOptions())
				} else {
					err = Push(context.Background(), ref, img, testOptions())
				}
				if err == nil || strings.ContainsAny(err.Error(), "\n\r") || !strings.Contains(err.Error(), want) {
					t.Fatalf("push (index: %v) to a registry whose HEAD lies = %v, want one line saying %q", index, err, want)
				}
				if _, herr := mustPuller(t).Head(context.Background(), ref); herr == nil {
					t.Errorf("the failed push left %s tagged", ref)
				}
			}
		})
	}
}

// TestPushStalledPatch: a registry that takes the PATCH of an upload and then reads no more of
// its body must not hang the push, of an image or of an index, forever: it fails in one line as
// timed out. (One that reads the whole body and never answers is still waited on: stallGuard
// times no PUT or PATCH.)
func TestPushStalledPatch(t *testing.T) {
	img, err := random.Image(8<<20, 1) // more than the socket buffers hold
	if err != nil {
		t.Fatal(err)
	}
	for _, index := range []bool{false, true} {
		name := "image"
		if index {
			name = "index"
		}
		t.Run(name, func(t *testing.T) {
			quit := make(chan struct{})
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPatch {
						_, _ = io.CopyN(io.Discard, r.Body, 4096)
						stallHere(t, r, quit)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			t.Cleanup(func() { close(quit) })
			opts := testOptions()
			opts.retry = &stallRetry
			ref := mustRef(t, host+"/stall/patch:1")
			var err error
			within(t, 30*time.Second, func() {
				if index {
					idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img,
						Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
					err = PushIndex(context.Background(), ref, idx, opts)
				} else {
					err = Push(context.Background(), ref, img, opts)
				}
			})
			t.Logf("push = %v", err)
			if err == nil || !strings.Contains(err.Error(), "timed out") || strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("push to a registry that stops reading a PATCH = %v, want one line saying it timed out", err)
			}
		})
	}
}

// TestPushRetriesOnce: a registry that answers every PATCH 503 gets each layer as many times as
// the transport retries a request, not that many times again for each restart of the upload;
// one that lost an upload (BLOB_UPLOAD_UNKNOWN) gets a new one, and the push goes through.
func TestPushRetriesOnce(t *testing.T) {
	var patches atomic.Int64
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				patches.Add(1)
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = Push(context.Background(), mustRef(t, host+"/red/busy:1"), img, testOptions())
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Push to a registry answering every PATCH 503 = %v", err)
	}
	if n := patches.Load(); n != int64(fastRetry.attempts) {
		t.Errorf("the layer was sent %d times, want %d (the transport's attempts)", n, fastRetry.attempts)
	}

	var lost atomic.Int64
	host = serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch && lost.Add(1) == 1 {
				http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"upload lost"}]}`, http.StatusNotFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	if err := Push(context.Background(), mustRef(t, host+"/red/lost:1"), img, testOptions()); err != nil {
		t.Errorf("Push to a registry that lost the first upload = %v, want it started again", err)
	}
}

// TestPushTokenScopeAndExpiry: a push asks the token realm for push and pull on the repository,
// and a token that expires in the middle of an upload (the PATCH after the POST answered 401),
// or just before the manifest PUT, is renewed, with the same scope, and the request sent again
// whole: go-containerregistry sent it again with the body it had already sent.
func TestPushTokenScopeAndExpiry(t *testing.T) {
	for _, expire := range []string{http.MethodPatch, http.MethodPut} {
		t.Run(expire, func(t *testing.T) {
			var (
				mu      sync.Mutex
				scopes  = map[string]int{}
				valid   = map[string]bool{}
				n       int
				expired bool
			)
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					if r.URL.Path == "/token" {
						scopes[r.URL.Query().Get("scope")]++
						n++
						tok := fmt.Sprintf("t%d", n)
						valid[tok] = true
						mu.Unlock()
						_, _ = w.Write([]byte(`{"token":"` + tok + `"}`))
						return
					}
					tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
					if !expired && r.Method == expire && (expire == http.MethodPatch || strings.Contains(r.URL.Path, "/manifests/")) {
						expired = true
						delete(valid, tok)
					}
					ok := valid[tok]
					mu.Unlock()
					if !ok {
						w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="test",scope="repository:red/tok:push,pull"`)
						http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token expired"}]}`, http.StatusUnauthorized)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			img := randomImage(t)
			ref := mustRef(t, host+"/red/tok:1")
			if err := Push(context.Background(), ref, img, testOptions()); err != nil {
				t.Fatalf("Push through a token expiring at the first %s = %v", expire, err)
			}
			mu.Lock()
			for s := range scopes {
				if s != "repository:red/tok:push,pull" {
					t.Errorf("token asked for scope %q, want repository:red/tok:push,pull (all: %v)", s, scopes)
				}
			}
			mu.Unlock()
			got, err := mustPuller(t).Image(context.Background(), ref)
			if err != nil {
				t.Fatalf("pulling %s after the push = %v", ref, err)
			}
			if want := digestOf(t, img); got.Descriptor.Digest != want {
				t.Errorf("pulled %s, want the pushed %s", got.Descriptor.Digest, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if !expired || n < 2 {
				t.Errorf("%d tokens issued, expired: %v: the test renewed none", n, expired)
			}
		})
	}
}
