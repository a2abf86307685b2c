package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawImage is an image made of raw manifest and config bytes, layers none.
type rawImage struct{ manifest, config []byte }

func (r rawImage) RawConfigFile() ([]byte, error)      { return r.config, nil }
func (r rawImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (r rawImage) RawManifest() ([]byte, error)        { return r.manifest, nil }
func (r rawImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	return nil, ErrNotFound
}

// TestInfoOfArtifact: a ref whose image has a config that verifies but is no image config
// (an artifact's, which an index from a registry or an archive may hold) is described with an
// empty config. Refusing to describe it failed Infos, and with it `images`, `system df` and
// `prune`, for the whole store.
func TestInfoOfArtifact(t *testing.T) {
	cfg := []byte("not an image config")
	cfgDesc := v1.Descriptor{MediaType: "application/vnd.example.config", Digest: digestOf(cfg), Size: int64(len(cfg))}
	man, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfgDesc, Layers: []v1.Descriptor{}})
	if err != nil {
		t.Fatal(err)
	}
	manDesc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: digestOf(man), Size: int64(len(man))}
	img, err := partial.CompressedToImage(rawImage{man, cfg})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "riscv64"}}})

	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if _, err := s.WriteIndex(ctx, "example.com/index:1", idx, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		d   v1.Descriptor
		raw []byte
	}{{cfgDesc, cfg}, {manDesc, man}} {
		if err := s.WriteBlob(ctx, b.d, bytes.NewReader(b.raw)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Tag("example.com/plain:1", manDesc); err != nil {
		t.Fatal(err)
	}
	infos, err := s.Infos()
	if err != nil {
		t.Fatalf("Infos() = %v, want both refs described", err)
	}
	if len(infos) != 2 || infos[0].Architecture != "" || len(infos[0].Platforms) != 1 || infos[1].Size != int64(len(cfg)) {
		t.Errorf("Infos() = %+v, want the index with one platform and the plain image, configs empty", infos)
	}
}
