package registry

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPushUploadStartCreated: a registry that answers the start of an upload (a POST that asks
// for no mount) with 201 Created, as if it had the blob, after its HEAD said it had not, fails
// the push in one line before any manifest goes up. go-containerregistry took the 201 for a
// mount and sent nothing of the layer, and the push succeeded for a registry without it.
func TestPushUploadStartCreated(t *testing.T) {
	var manifests atomic.Int64
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isStart(r) {
				w.WriteHeader(http.StatusCreated)
				return
			}
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				manifests.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	var err error
	within(t, 30*time.Second, func() {
		err = Push(context.Background(), mustRef(t, host+"/red/created:1"), randomImage(t), testOptions())
	})
	if err == nil {
		t.Fatal("Push succeeded, though the registry never got a layer")
	}
	msg := err.Error()
	t.Logf("Push = %s", msg)
	if !strings.Contains(msg, "201 Created") || !strings.Contains(msg, host) || strings.ContainsAny(msg, "\n\r") {
		t.Errorf("Push = %q, want one line naming %s and its 201 Created", msg, host)
	}
	if n := manifests.Load(); n != 0 {
		t.Errorf("%d manifest PUTs, want none", n)
	}
}
