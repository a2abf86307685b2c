package registry

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPushPutNeverAnswered: a registry that takes a PUT (the manifest's, or the one that
// commits an upload) and never answers fails the push as timed out once putAnswerFactor
// times the stall limit has passed, the PUT sent once: PUT answers were awaited with no limit,
// so such a registry held strata push forever (only Ctrl-C ended it).
func TestPushPutNeverAnswered(t *testing.T) {
	for _, path := range []string{"/manifests/", "/blobs/uploads/"} {
		t.Run(strings.Trim(path, "/"), func(t *testing.T) {
			quit := make(chan struct{})
			var puts atomic.Int64
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPut && strings.Contains(r.URL.Path, path) {
						puts.Add(1)
						stallHere(t, r, quit)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			t.Cleanup(func() { close(quit) })
			opts := testOptions()
			opts.retry = &stallRetry
			start := time.Now()
			within(t, 30*time.Second, func() {
				err := Push(context.Background(), mustRef(t, host+"/stall/put:1"), randomImage(t), opts)
				if err == nil || !strings.Contains(err.Error(), "timed out") {
					t.Errorf("Push to a registry that never answers a PUT of %s = %v, want it timed out", path, err)
				}
			})
			if took, limit := time.Since(start), stallRetry.stall*putAnswerFactor; took < limit {
				t.Errorf("Push gave up after %s, before the PUT's limit of %s", took, limit)
			}
			if n := puts.Load(); path == "/manifests/" && n != 1 {
				t.Errorf("the manifest PUT was sent %d times, want once", n)
			}
		})
	}
}
