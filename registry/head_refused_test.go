package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHeadRefusedFallsBack: a registry that refuses the HEAD of a manifest it serves (404 from
// a Nexus or Harbor proxy, 403 from registry.centos.org, a 401 or 400 from others) gets a GET,
// as docker's distribution client gives it: Head returns the digest. It failed with the HEAD's
// error, so every pull of a tag after the first, which made no HEAD, failed ("manifest …
// not found", "pull access denied"). A tag that is gone is still ErrNotFound (the GET's), and
// a HEAD answered 429 is final: no GET that the limit counts too.
func TestHeadRefusedFallsBack(t *testing.T) {
	var code atomic.Int32
	var gets atomic.Int32
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				if c := code.Load(); c != 0 && r.Method == http.MethodHead {
					w.WriteHeader(int(c))
					return
				}
				if r.Method == http.MethodGet {
					gets.Add(1)
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	img := randomImage(t)
	ref := pushImage(t, host+"/head/app:1", img)
	p, err := NewPuller(testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []int{http.StatusNotFound, http.StatusForbidden, http.StatusUnauthorized, http.StatusBadRequest} {
		code.Store(int32(c))
		d, err := p.Head(context.Background(), ref)
		if err != nil || d.Digest != digestOf(t, img) {
			t.Errorf("Head with HEAD answered %d = %s, %v; want %s from a GET", c, d.Digest, err, digestOf(t, img))
		}
	}
	code.Store(http.StatusNotFound)
	if _, err := p.Head(context.Background(), mustRef(t, host+"/head/app:missing")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Head(missing) = %v, want ErrNotFound", err)
	}
	code.Store(http.StatusTooManyRequests)
	gets.Store(0)
	if _, err := p.Head(context.Background(), ref); !errors.Is(err, ErrTooManyRequests) {
		t.Errorf("Head with HEAD answered 429 = %v, want ErrTooManyRequests", err)
	}
	if n := gets.Load(); n != 0 {
		t.Errorf("Head with HEAD answered 429 made %d GETs, want none", n)
	}
}
