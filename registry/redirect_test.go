package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPushEndlessRedirect: a registry that redirects its manifests in a loop fails a push
// after net/http's 10 redirects. go-containerregistry's own clients follow redirects with no
// limit, so without the transport's count the push's manifest HEAD never returned.
func TestPushEndlessRedirect(t *testing.T) {
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				http.Redirect(w, r, r.URL.Path+"x", http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := Push(ctx, mustRef(t, host+"/loop/app:1"), randomImage(t), testOptions())
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("Push to a registry redirecting in a loop = %v, want stopped after 10 redirects", err)
	}
}
