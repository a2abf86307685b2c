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

// TestRepositoryNamedLikeAnEndpoint: a repository may have "manifests" or "blobs" as an
// element of its name ("org/manifests/app"), as docker's registry allows. Its blobs were taken
// for manifests, the path holding "/manifests/": read whole into memory, and a layer over 4
// MiB refused as "manifest … is larger than the 4 MiB limit". A blob one lacks is named as
// the missing blob, whatever the repository's name.
func TestRepositoryNamedLikeAnEndpoint(t *testing.T) {
	img, err := random.Image(MaxManifestSize+1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layer := digestOf(t, layers[0])
	var lack atomic.Bool
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if lack.Load() && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.String()) {
				http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`, http.StatusNotFound)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	for _, repo := range []string{"org/manifests/app", "org/manifests", "manifests/blobs/x"} {
		t.Run(repo, func(t *testing.T) {
			lack.Store(false)
			ref := pushImage(t, host+"/"+repo+":1", img)
			p, err := NewPuller(testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Image(context.Background(), ref)
			if err != nil {
				t.Fatalf("Image = %v", err)
			}
			body, err := got.FetchBlob(context.Background(), layer, 0)
			if err != nil {
				t.Fatalf("FetchBlob of a %d-byte layer = %v", MaxManifestSize+1<<20, err)
			}
			h, n, err := v1.SHA256(body)
			body.Close()
			if err != nil || h != layer {
				t.Errorf("FetchBlob read %d bytes hashing to %s (%v), want %s", n, h, err, layer)
			}
			lack.Store(true)
			_, err = got.FetchBlob(context.Background(), layer, 0)
			short := "blob " + layer.Algorithm + ":" + layer.Hex[:12] + " not found"
			if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), short) {
				t.Errorf("FetchBlob of a blob the registry lacks = %v, want ErrNotFound saying %q", err, short)
			}
		})
	}
}
