package registry

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestPushManifestDigestLies: a registry that answers a manifest PUT with another digest than
// that of the bytes strata sent fails the push, naming both, for an image and for an index. A
// registry that sends no digest, or the right one, is believed.
func TestPushManifestDigestLies(t *testing.T) {
	fake := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		digest  string // "" removes the header
		wantErr bool
	}{
		{"another digest", fake, true},
		{"garbage", "sha256:not-hex", true},
		{"unknown algorithm", "md5:" + strings.Repeat("0", 32), true},
		{"no digest", "", false},
	}
	for _, tt := range tests {
		for _, index := range []bool{false, true} {
			name := tt.name + "/image"
			if index {
				name = tt.name + "/index"
			}
			t.Run(name, func(t *testing.T) {
				host := serve(t, func(next http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
							w = &putDigest{ResponseWriter: w, digest: tt.digest}
						}
						next.ServeHTTP(w, r)
					})
				})
				img := randomImage(t)
				ref := mustRef(t, host+"/lies/put:1")
				var err error
				var sent v1.Hash
				if index {
					idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img,
						Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}})
					// The image's manifest goes up first, by digest, and is checked first.
					sent = digestOf(t, img)
					err = PushIndex(context.Background(), ref, idx, testOptions())
				} else {
					sent = digestOf(t, img)
					err = Push(context.Background(), ref, img, testOptions())
				}
				if !tt.wantErr {
					if err != nil {
						t.Fatalf("push = %v", err)
					}
					return
				}
				if err == nil {
					t.Fatal("push to a registry answering another digest succeeded")
				}
				msg := err.Error()
				if !strings.Contains(msg, sent.String()) || (tt.digest == fake && !strings.Contains(msg, fake)) ||
					strings.ContainsAny(msg, "\n\x1b") {
					t.Errorf("push = %q, want one line naming %s and the registry's digest", msg, sent)
				}
			})
		}
	}
}

// putDigest replaces, or removes, the Docker-Content-Digest of an answer.
type putDigest struct {
	http.ResponseWriter
	digest string
	done   bool
}

func (p *putDigest) WriteHeader(code int) {
	if !p.done {
		p.done = true
		if p.digest == "" {
			p.Header().Del("Docker-Content-Digest")
		} else {
			p.Header().Set("Docker-Content-Digest", p.digest)
		}
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *putDigest) Write(b []byte) (int, error) {
	if !p.done {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}
