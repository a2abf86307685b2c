package registry

import (
	"context"
	"fmt"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"net/http"
	"strings"
	"testing"
)

// TestRedirectHostOneLine: the host a registry redirects to reaches strata's message when it
// cannot be reached or is refused; a C1 control (CSI, raw or percent-encoded, which url.Parse
// lets through in a host) must not reach the user's terminal with it.
func TestRedirectHostOneLine(t *testing.T) {
	for _, target := range []string{
		"http://%9b2J.example.test/x",     // unknown host, CSI as a raw byte
		"http://\u009b2Jx.example.test/x", // unknown host, CSI as UTF-8
		"http://\u009b2Jy.example.test/x", // resolves to a private address
		"file:///etc/passwd",              // no scheme strata speaks
	} {
		t.Run(target, func(t *testing.T) {
			n := newFakeNet()
			back := backend()
			n.host("\u009b2Jy.example.test", "10.0.0.1")
			regSrv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
					w.Header().Set("Location", target)
					w.WriteHeader(http.StatusTemporaryRedirect)
					return
				}
				back.ServeHTTP(w, r)
			}))
			n.host("registry.example.test", "203.0.113.7")
			n.route("203.0.113.7:5000", regSrv)
			opts := testOptions()
			opts.Insecure = true
			opts.net = n.hooks()
			ref := mustRef(t, "registry.example.test:5000/app/x:1")
			img := randomImage(t)
			if err := Push(context.Background(), ref, img, opts); err != nil {
				t.Fatalf("Push = %v", err)
			}
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			// FetchBlob, strata's own client: go-containerregistry's quotes what it refuses.
			got, err := p.Image(context.Background(), ref)
			if err == nil {
				var layers []v1.Layer
				ls, _ := got.Layers()
				for _, l := range ls {
					layers = append(layers, l)
				}
				d, _ := layers[0].Digest()
				_, err = got.FetchBlob(context.Background(), d, 0)
			}
			if err == nil {
				t.Fatal("fetch through a redirect to nowhere succeeded")
			}
			if msg := err.Error(); strings.IndexByte(msg, 0x9b) >= 0 || strings.ContainsAny(msg, "\u009b\n") {
				t.Errorf("error %q carries the registry's control characters", msg)
			}
		})
	}
}

// TestHugeResponseHeaders: a registry that answers with megabytes of headers fails the request
// in one line, after at most maxResponseHeaders of them, not net/http's 10 MiB.
func TestHugeResponseHeaders(t *testing.T) {
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
				for i := range 100 { // 3 MiB
					w.Header().Add(fmt.Sprintf("X-Junk-%d", i), strings.Repeat("j", 30<<10))
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	ref := pushImage(t, host+"/huge/headers:1", randomImage(t))
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Image(context.Background(), ref)
	if err == nil || strings.Contains(err.Error(), "\n") || len(err.Error()) > 1024 {
		t.Errorf("Image behind 3 MiB of headers = %.300v, want one short line", err)
	}
}
