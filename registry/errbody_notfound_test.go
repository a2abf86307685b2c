package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestBlobUnknownNamesTheBlob: a registry that lacks a blob its manifest names (its config, a
// layer) answers 404 BLOB_UNKNOWN; the pull says which blob is missing, not that the
// repository or the config is.
func TestBlobUnknownNamesTheBlob(t *testing.T) {
	img := randomImage(t)
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0])
	for _, tt := range []struct {
		name    string
		missing v1.Hash
		body    string
	}{
		{"config", cfg, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`},
		{"config/no body", cfg, ""},
		{"layer", layer, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var lack atomic.Bool
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if lack.Load() && strings.HasSuffix(r.URL.Path, "/blobs/"+tt.missing.String()) {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusNotFound)
						w.Write([]byte(tt.body))
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			ref := pushImage(t, host+"/lacks/blob:1", img)
			lack.Store(true)
			err := fetchMissing(t, ref, tt.missing, layer)
			if err == nil {
				t.Fatalf("pull of an image whose %s the registry lacks = no error", tt.name)
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			short := "blob " + tt.missing.Algorithm + ":" + tt.missing.Hex[:12]
			if !errors.Is(err, ErrNotFound) || !strings.Contains(msg, short+" not found") ||
				strings.Contains(msg, tt.missing.Hex) || strings.Contains(msg, "repository") {
				t.Errorf("error = %q, want ErrNotFound naming %s (its short digest) as what is missing", msg, short)
			}
		})
	}
}

// TestUploadUnknownNamesTheUpload: a registry that keeps losing a push's upload (404
// BLOB_UPLOAD_UNKNOWN, after go-containerregistry's restarts) fails the push saying the upload
// was lost, not that the repository does not exist.
func TestUploadUnknownNamesTheUpload(t *testing.T) {
	for _, method := range []string{http.MethodPatch, http.MethodPut} {
		t.Run(method, func(t *testing.T) {
			host := serve(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == method && strings.Contains(r.URL.Path, "/blobs/uploads/") {
						http.Error(w, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"upload lost"}]}`, http.StatusNotFound)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			img, err := random.Image(1024, 1)
			if err != nil {
				t.Fatal(err)
			}
			err = Push(context.Background(), mustRef(t, host+"/lost/upload:1"), img, testOptions())
			if err == nil {
				t.Fatal("Push to a registry that loses every upload = no error")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if !strings.Contains(msg, "lost the upload") || !strings.Contains(msg, "BLOB_UPLOAD_UNKNOWN") ||
				strings.Contains(msg, "repository") || strings.Contains(msg, "\n") {
				t.Errorf("error = %q, want one line saying the registry lost the upload", msg)
			}
			if method == http.MethodPut && !strings.Contains(msg, "blob sha256:") {
				t.Errorf("error = %q, want it to name the blob whose upload was lost", msg)
			}
		})
	}
}
