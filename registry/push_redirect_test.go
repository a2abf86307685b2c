package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPushWriteRedirected: a registry that answers a write of the push (the POST that starts
// an upload, the PUT that commits it, the manifest PUT) with a 301, 302 or 303 fails the push
// in one line: net/http follows those as a GET without the body, and a GET answered 200 was
// taken for the write done, so the push said it had pushed a manifest the registry never got.
// A 307 keeps the method and the body, and is followed.
func TestPushWriteRedirected(t *testing.T) {
	moved := func(code int, match func(r *http.Request) bool) func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if strings.Contains(r.URL.RawQuery, "moved=1") {
				if r.Method == http.MethodGet {
					// What a GET of the new URL answers: all is well.
					w.WriteHeader(http.StatusOK)
					return
				}
				q := r.URL.Query()
				q.Del("moved")
				r.URL.RawQuery = q.Encode()
				next.ServeHTTP(w, r)
				return
			}
			if match(r) {
				u := *r.URL
				if u.RawQuery != "" {
					u.RawQuery += "&"
				}
				u.RawQuery += "moved=1"
				w.Header().Set("Location", u.String())
				w.WriteHeader(code)
				return
			}
			next.ServeHTTP(w, r)
		}
	}
	isManifestPut := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/")
	}
	isCommit := func(r *http.Request) bool { return r.Method == http.MethodPut && isUpload(r) }
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request, next http.Handler)
		ok     bool
	}{
		{"manifest PUT 301", moved(http.StatusMovedPermanently, isManifestPut), false},
		{"manifest PUT 302", moved(http.StatusFound, isManifestPut), false},
		{"manifest PUT 303", moved(http.StatusSeeOther, isManifestPut), false},
		{"commit PUT 301", moved(http.StatusMovedPermanently, isCommit), false},
		{"upload POST 302", moved(http.StatusFound, isStart), false},
		{"manifest PUT 307", moved(http.StatusTemporaryRedirect, isManifestPut), true},
		{"manifest PUT 308", moved(http.StatusPermanentRedirect, isManifestPut), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.handle(w, r, next) })
			})
			ref := mustRef(t, host+"/red/moved:1")
			var err error
			within(t, 30*time.Second, func() {
				err = Push(context.Background(), ref, randomImage(t), testOptions())
			})
			_, herr := mustPuller(t).Head(context.Background(), ref)
			if tt.ok {
				if err != nil || herr != nil {
					t.Fatalf("Push = %v, then Head = %v; want both to succeed", err, herr)
				}
				return
			}
			if err == nil {
				t.Fatalf("Push succeeded (Head after it: %v)", herr)
			}
			msg := err.Error()
			t.Logf("Push = %s", msg)
			if !strings.Contains(msg, "redirect") || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("Push = %q, want one line saying the registry redirected a write", msg)
			}
			if herr == nil {
				t.Errorf("the failed push left %s tagged", ref)
			}
		})
	}
}
