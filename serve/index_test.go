package serve

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
)

// TestServeIndex: a ref that names an index (pull --all-platforms) is served whole: the index
// by tag, every platform's manifest by digest, and every blob, with digests unchanged.
func TestServeIndex(t *testing.T) {
	f := newFixture(t, Options{})
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := testimages.AlpineIndex(td, testimages.AlpineVersion)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.WriteIndex(context.Background(), "docker.io/library/alpine:multi", idx, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	ref, err := name.ParseReference(strings.TrimPrefix(f.srv.URL, "http://")+"/library/alpine:multi", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("remote.Index(%s) = %v", ref, err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("served index digest = %s, want %s", d, want)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		img, err := got.Image(m.Digest)
		if err != nil {
			t.Fatalf("%s: %v", m.Platform, err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatalf("%s: %v", m.Platform, err)
		}
		for _, l := range layers {
			rc, err := l.Compressed() // verifies the digest as it is read
			if err != nil {
				t.Fatalf("%s: %v", m.Platform, err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Errorf("%s: layer: %v", m.Platform, err)
			}
			rc.Close()
		}
		if _, err := img.ConfigFile(); err != nil {
			t.Errorf("%s: config: %v", m.Platform, err)
		}
	}
}
