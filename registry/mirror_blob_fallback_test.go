package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestMirrorBlobFallback: a mirror that serves an image's manifest but not its blobs (one part
// way through its sync) does not fail the pull: the config and each layer it lacks are asked
// of the registry itself, as containerd asks each host in turn, and hash to their digests. A
// blob no one has is the mirror's not-found. The image's own registry is asked nothing more.
func TestMirrorBlobFallback(t *testing.T) {
	img := randomImage(t)
	upBlobs := &counter{sub: "/blobs/sha256:"}
	upstream := serve(t, upBlobs.wrap)
	ref := pushImage(t, upstream+"/mirrored/app:1", img)
	partial := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	pushImage(t, partial+"/mirrored/app:1", img)

	opts := testOptions()
	opts.ConfigPath = writeConfig(t, Config{Registries: map[string]RegistryConfig{upstream: {Mirrors: []string{"http://" + partial}}}})
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		t.Fatalf("Image(%s) = %v", ref, err)
	}
	if got.Source != partial {
		t.Fatalf("Image(%s).Source = %s, want the mirror %s", ref, got.Source, partial)
	}
	before := upBlobs.n.Load()
	raw, err := got.RawConfigFile()
	if err != nil {
		t.Fatalf("RawConfigFile from a mirror without it = %v", err)
	}
	want, _ := img.RawConfigFile()
	if string(raw) != string(want) {
		t.Errorf("RawConfigFile = %q, want %q", raw, want)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		d := digestOf(t, l)
		body, err := got.FetchBlob(context.Background(), d, 0)
		if err != nil {
			t.Fatalf("FetchBlob(%s) from a mirror without it = %v", d, err)
		}
		h, _, err := v1.SHA256(body)
		body.Close()
		if err != nil || h != d {
			t.Errorf("FetchBlob(%s) hashed to %s, %v", d, h, err)
		}
	}
	if upBlobs.n.Load() == before {
		t.Error("the registry itself was asked for no blob")
	}
	missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	_, err = got.FetchBlob(context.Background(), missing, 0)
	var e *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || e.Registry != partial {
		t.Errorf("FetchBlob of a blob no one has = %v, want the mirror's not found", err)
	}
}
