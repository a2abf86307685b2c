package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestPushPatchNeverAnswered: a registry that reads a whole PATCH and never answers fails the
// push as timed out once the stall limit has passed; it held strata push forever, since PUT
// and PATCH headers were awaited without a limit.
func TestPushPatchNeverAnswered(t *testing.T) {
	img, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				_, _ = io.Copy(io.Discard, r.Body)
				stallHere(t, r, quit)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() { close(quit) })
	opts := testOptions()
	opts.retry = &stallRetry
	ref := mustRef(t, host+"/stall/answer:1")
	within(t, 30*time.Second, func() {
		err = Push(context.Background(), ref, img, opts)
	})
	t.Logf("push = %v", err)
	if err == nil || !strings.Contains(err.Error(), "timed out") || strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("push to a registry that never answers a PATCH = %v, want one line saying it timed out", err)
	}
}
