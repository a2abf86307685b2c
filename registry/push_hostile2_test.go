package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// hangUp closes the connection of r, with no answer, after reading n bytes of its body.
func hangUp(w http.ResponseWriter, r *http.Request, n int64) {
	_, _ = io.CopyN(io.Discard, r.Body, n)
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hang up", http.StatusInternalServerError)
		return
	}
	if c, _, err := hj.Hijack(); err == nil {
		c.Close()
	}
}

// TestHangUpWorded: a registry that closes the connection instead of answering, at any step of
// a push or a pull, fails it in one line that says so and names the repository. It said
// "pushing REPO: EOF", or "registry HOST: write tcp A->B: use of closed network connection"
// (a PATCH cut off while its layer was sent): Go's words, which told the user nothing.
func TestHangUpWorded(t *testing.T) {
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	manifestPut := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
	}
	for _, tt := range []struct {
		name string
		bad  func(r *http.Request) bool
		n    int64 // bytes of the request's body read before hanging up
		pull bool
	}{
		{"PATCH midway", func(r *http.Request) bool { return r.Method == http.MethodPatch }, 100 << 10, false},
		{"PATCH at once", func(r *http.Request) bool { return r.Method == http.MethodPatch }, 0, false},
		{"commit PUT", func(r *http.Request) bool { return r.Method == http.MethodPut && isUpload(r) }, 0, false},
		{"manifest PUT", manifestPut, 0, false},
		{"upload POST", isStart, 0, false},
		{"manifest GET", func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
		}, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var on atomic.Bool
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if on.Load() && tt.bad(r) {
						hangUp(w, r, tt.n)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			ref := mustRef(t, host+"/hang/up:1")
			if tt.pull {
				if err := Push(context.Background(), ref, img, testOptions()); err != nil {
					t.Fatal(err)
				}
			}
			on.Store(true)
			var err error
			within(t, 30*time.Second, func() {
				if tt.pull {
					_, err = mustPuller(t).Image(context.Background(), ref)
					return
				}
				err = Push(context.Background(), ref, img, testOptions())
			})
			if err == nil {
				t.Fatal("succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			verb := "pushing "
			if tt.pull {
				verb = "pulling "
			}
			if !strings.Contains(msg, "closed the connection") || !strings.Contains(msg, verb+host+"/hang/up") ||
				strings.Contains(msg, "use of closed network connection") || strings.HasSuffix(msg, "EOF") ||
				strings.ContainsAny(msg, "\n\r") {
				t.Errorf("err = %q, want one line saying the registry closed the connection, %s%s/hang/up", msg, verb, host)
			}
		})
	}
}
