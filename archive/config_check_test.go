package archive

import (
	"bytes"
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/jsonvalues"
	"github.com/strata-run/strata/registry"
)

// TestLoadConfigChecked: an image load would store to run, whose config does not parse as an
// image config, pairs its layers with another number of DiffIDs, or holds more JSON values
// than the store parses, is refused with one line, as pull refuses it (cache.WriteImage). It
// was stored, and run failed on it later ("image has 1 layers but its config 0 diff ids").
// In an index kept whole only the wanted platform's image is checked: the others may be
// artifacts (attestations) with configs of any shape.
func TestLoadConfigChecked(t *testing.T) {
	layerEnt, layer := blobEntry(types.OCIUncompressedLayer, writeTar(t, nil))
	host := registry.DefaultPlatform()
	image := func(config []byte, layers ...v1.Descriptor) ([]tarEntry, v1.Descriptor) {
		cfgEnt, cfg := blobEntry(types.OCIConfigJSON, config)
		if layers == nil {
			layers = []v1.Descriptor{}
		}
		manEnt, man := blobEntry(types.OCIManifestSchema1, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: layers}))
		return []tarEntry{cfgEnt, manEnt, layerEnt}, man
	}
	top := func(d v1.Descriptor) tarEntry {
		d.Annotations = map[string]string{refNameAnnotation: "example.com/app:1"}
		return file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}}))
	}
	indexOf := func(children ...v1.Descriptor) (tarEntry, v1.Descriptor) {
		return blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: children}))
	}
	good := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + layer.Digest.String() + `"]}}`)
	for _, tt := range []struct {
		name, want string
		config     []byte
	}{
		{"not JSON", "parsing config", []byte(`not json at all`)},
		{"not an object", "parsing config", []byte(`[1]`)},
		{"fewer DiffIDs than layers", "0 DiffIDs", []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)},
		{"null", "no rootfs", []byte(`null`)},
		{"empty object", "no rootfs", []byte(`{}`)},
		{"rootfs of another type", `not "layers"`, []byte(`{"os":"linux","rootfs":{"type":"layers+base","diff_ids":["` + layer.Digest.String() + `"]}}`)},
		{"too many values", "JSON values", []byte(`{"os":"linux","config":{"Env":[` + strings.Repeat(`"A=1",`, jsonvalues.Max) + `"A=1"]},"rootfs":{"diff_ids":["` + layer.Digest.String() + `"]}}`)},
	} {
		t.Run("image/"+tt.name, func(t *testing.T) {
			ents, man := image(tt.config, layer)
			loadFails(t, bytes.NewReader(writeTar(t, append(ents, top(man)))), LoadOptions{}, nil, tt.want)
		})
		t.Run("index/"+tt.name, func(t *testing.T) {
			ents, man := image(tt.config, layer)
			man.Platform = &host
			idxEnt, idx := indexOf(man)
			for _, p := range []v1.Platform{{}, host} {
				loadFails(t, bytes.NewReader(writeTar(t, append(ents, idxEnt, top(idx)))), LoadOptions{Platform: p}, nil, tt.want)
			}
		})
	}
	t.Run("index with an artifact beside the image", func(t *testing.T) {
		ents, man := image(good, layer)
		man.Platform = &host
		artEnts, art := image([]byte(`{"predicateType":"x"}`), layer)
		art.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
		idxEnt, idx := indexOf(man, art)
		s := newStore(t)
		ents = append(ents, artEnts[:2]...) // the layer is the image's too
		got, err := Load(context.Background(), s, bytes.NewReader(writeTar(t, append(ents, idxEnt, top(idx)))), LoadOptions{})
		if err != nil || len(got) != 1 || got[0].Manifest.Digest != idx.Digest {
			t.Fatalf("Load() = %+v, %v; want the index kept whole", got, err)
		}
	})
}
