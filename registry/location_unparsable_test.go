package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestUploadLocationNotAURL: a registry whose upload Location is no URL fails the push in one
// line that says it was the registry's, and which: net/url's words alone, "pushing HOST/REPO:
// missing ']' in host", said neither.
func TestUploadLocationNotAURL(t *testing.T) {
	for _, loc := range []string{"http://[::1", "/v2/red/loc/blobs/uploads/%zz", "http://host:port/x"} {
		host := serve(t, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if isStart(r) {
					w = rewriting(w, func(h http.Header, code int) int { h["Location"] = []string{loc}; return code })
				}
				next.ServeHTTP(w, r)
			})
		})
		err := Push(context.Background(), mustRef(t, host+"/red/loc:1"), randomImage(t), testOptions())
		if err == nil {
			t.Fatalf("Push with Location %q succeeded", loc)
		}
		want := "registry " + host + " sent strata to " + `"` + loc + `"` + ", which is not a URL"
		if msg := err.Error(); !strings.Contains(msg, want) || strings.ContainsAny(msg, "\n\r") {
			t.Errorf("Push = %q, want one line saying %q", msg, want)
		}
	}
}
