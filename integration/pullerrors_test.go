package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestPullErrorsNameRefOnce checks the wording of failed pulls: one line that names the image
// once, whichever layer failed (the registry, the network, the store). Before, the store's
// "writing image X" and the registry's "manifest for X" came after pull's own "pulling X".
func TestPullErrorsNameRefOnce(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	small := randomImage(t, 32<<10)
	f := startFront(t, frontAuth{}, func(ctx context.Context, host string) error {
		for _, tag := range []string{"corrupt", "flaky", "artifact"} {
			if err := push(ctx, host, "test/small:"+tag, small); err != nil {
				return err
			}
		}
		return nil
	})
	layer := layerDigests(t, small)[0]
	var corrupt bool
	f.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/manifests/flaky"):
			http.Error(w, "upstream is down", http.StatusServiceUnavailable)
			return true
		case strings.HasSuffix(p, "/manifests/artifact"):
			return serveManifest(f, w, r, "application/vnd.example.artifact.v1+json", nil)
		case strings.HasSuffix(p, "/manifests/corrupt"):
			corrupt = true
			return false
		case corrupt && blobDigest(r) == layer:
			resp, body, err := f.fetchUpstream(r)
			if err != nil || resp.StatusCode != http.StatusOK {
				http.Error(w, "fetching upstream failed", http.StatusBadGateway)
				return true
			}
			body[len(body)/2] ^= 0xff
			w.Write(body)
			return true
		}
		return false
	})
	env := testEnv(t.TempDir())
	tests := []struct {
		name, ref, want string
	}{
		{"not found", f.Host + "/library/nosuch:1", "not found"},
		{"connection refused", freePort(t) + "/library/alpine:1", "connection refused"},
		{"server error", f.Host + "/test/small:flaky", "503"},
		{"unsupported media type", f.Host + "/test/small:artifact", "unsupported media type"},
		{"digest mismatch in the store", f.Host + "/test/small:corrupt", "digest mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, env, "", newRoot(t), "pull", "-q", tt.ref)
			checkFailed(t, r, tt.want)
			if n := strings.Count(r.Stderr, tt.ref); n != 1 {
				t.Errorf("stderr %q names %s %d times, want once", r.Stderr, tt.ref, n)
			}
		})
	}
}
