package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawPut is a manifest or index pushed as it is.
type rawPut struct {
	mt  types.MediaType
	raw []byte
}

func (r rawPut) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawPut) MediaType() (types.MediaType, error) { return r.mt, nil }

// TestPullForeignLayerURLs pins where a layer with `urls` (a foreign, non-distributable layer,
// as Windows base layers are listed) comes from: the registry, never the URLs the manifest
// gives. Those are the manifest's words; fetched, they would make strata request any URL a
// registry names (with or without --all-platforms), which docker does only for Windows and
// containerd only when asked to. A registry that has the blob serves it; one that does not
// fails the pull, and the URLs get no request either way.
func TestPullForeignLayerURLs(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	// Two registries: go-containerregistry's keeps one set of blobs for all repositories.
	newRegistry := func() string {
		srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	served, lacking := newRegistry(), newRegistry()
	var asked atomic.Int64
	blob := make([]byte, 2048)
	rand.Read(blob)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Write(blob)
	}))
	t.Cleanup(elsewhere.Close)
	ctx := context.Background()
	sum := sha256.Sum256(blob)
	layer := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	cfg, err := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{layer}}})
	if err != nil {
		t.Fatal(err)
	}
	cfgSum := sha256.Sum256(cfg)
	manifest, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(cfgSum[:])}, Size: int64(len(cfg))},
		Layers: []v1.Descriptor{{MediaType: types.DockerForeignLayer, Digest: layer, Size: int64(len(blob)), URLs: []string{elsewhere.URL + "/layer.tar"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mSum := sha256.Sum256(manifest)
	index, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.DockerManifestList, Manifests: []v1.Descriptor{{
		MediaType: types.DockerManifestSchema2, Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(mSum[:])}, Size: int64(len(manifest)),
		Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	push := func(host string, withBlob bool) {
		t.Helper()
		r, err := name.NewRepository(host + "/app")
		if err != nil {
			t.Fatal(err)
		}
		blobs := [][]byte{cfg}
		if withBlob {
			blobs = append(blobs, blob)
		}
		for _, b := range blobs {
			if err := remote.WriteLayer(r, static.NewLayer(b, types.DockerUncompressedLayer), remote.WithContext(ctx)); err != nil {
				t.Fatal(err)
			}
		}
		if err := remote.Put(r.Tag("image"), rawPut{types.DockerManifestSchema2, manifest}, remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
		if err := remote.Put(r.Tag("index"), rawPut{types.DockerManifestList, index}, remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
	}
	push(served, true)
	push(lacking, false)
	for _, tt := range []struct {
		ref          string
		allPlatforms bool
		ok           bool
	}{
		{served + "/app:image", false, true},
		{served + "/app:index", true, true},
		{lacking + "/app:image", false, false},
		{lacking + "/app:index", true, false},
	} {
		var stdout, stderr bytes.Buffer
		o := pullOptions{concurrency: 1, progress: "plain", noUnpack: true, allPlatforms: tt.allPlatforms}
		err := runPull(ctx, &globals{root: t.TempDir()}, o, tt.ref, &stdout, &stderr)
		if tt.ok != (err == nil) {
			t.Errorf("pull (all platforms %v) %s = %v, want success %v", tt.allPlatforms, tt.ref, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("pull %s: error of more than one line: %q", tt.ref, err)
		}
		if n := asked.Load(); n != 0 {
			t.Fatalf("pull %s made %d requests to a URL the manifest named", tt.ref, n)
		}
	}
}
