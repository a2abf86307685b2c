package archive

import (
	"bytes"
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/registry"
)

// TestLoadManifestKinds: index.json's descriptor of a manifest and the manifest's own body
// may disagree. pull settles that, and load now does as pull does: a body with the fields of
// the other kind (an index that also has a config and layers, CVE-2021-41190, which
// containerd and docker load refuse) is refused, with or without --platform; a body whose
// own mediaType is the other type of the same kind (an OCI manifest listed as Docker's) is
// recorded with its own type. It was stored under the descriptor's, which serve then sent
// as the Content-Type of a body that says otherwise (docker refuses that), and push as the
// type of its PUT.
func TestLoadManifestKinds(t *testing.T) {
	cfgEnt, cfg := blobEntry(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	host := registry.DefaultPlatform()
	manifest := func(mt types.MediaType) (tarEntry, v1.Descriptor) {
		return blobEntry(mt, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: mt, Config: cfg, Layers: []v1.Descriptor{}}))
	}
	top := func(d v1.Descriptor, listedAs types.MediaType) tarEntry {
		d.MediaType = listedAs
		d.Annotations = map[string]string{refNameAnnotation: "example.com/app:1"}
		return file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}}))
	}
	ociEnt, oci := manifest(types.OCIManifestSchema1)
	dockerEnt, docker := manifest(types.DockerManifestSchema2)
	child := oci
	child.Platform = &host
	ambiguous := mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": types.OCIImageIndex,
		"manifests": []v1.Descriptor{child}, "config": cfg, "layers": []v1.Descriptor{},
	})
	ambEnt, amb := blobEntry(types.OCIImageIndex, ambiguous)
	// Empty lists and a null config are no fields of an image, as containerd reads them.
	emptyEnt, empty := blobEntry(types.OCIImageIndex, mustJSON(t, map[string]any{
		"schemaVersion": 2, "mediaType": types.OCIImageIndex,
		"manifests": []v1.Descriptor{child}, "config": nil, "layers": []v1.Descriptor{},
	}))
	listEnt, list := blobEntry(types.DockerManifestList, mustJSON(t, v1.IndexManifest{
		SchemaVersion: 2, MediaType: types.DockerManifestList, Manifests: []v1.Descriptor{child}}))

	for _, platform := range []v1.Platform{{}, host} {
		label := "whole"
		if platform.OS != "" {
			label = platform.String()
		}
		t.Run("index with an image's fields/"+label, func(t *testing.T) {
			loadFails(t, bytes.NewReader(writeTar(t, []tarEntry{cfgEnt, ociEnt, ambEnt, top(amb, types.OCIImageIndex)})),
				LoadOptions{Platform: platform}, registry.ErrUnsupportedMediaType, "an image manifest's fields")
		})
	}
	for _, tt := range []struct {
		name string
		ents []tarEntry
		opts LoadOptions
		want types.MediaType
	}{
		{"OCI manifest listed as Docker's", []tarEntry{cfgEnt, ociEnt, top(oci, types.DockerManifestSchema2)}, LoadOptions{}, types.OCIManifestSchema1},
		{"Docker manifest listed as OCI's", []tarEntry{cfgEnt, dockerEnt, top(docker, types.OCIManifestSchema1)}, LoadOptions{}, types.DockerManifestSchema2},
		{"Docker list listed as an OCI index", []tarEntry{cfgEnt, ociEnt, listEnt, top(list, types.OCIImageIndex)}, LoadOptions{}, types.DockerManifestList},
		{"index with empty image fields", []tarEntry{cfgEnt, ociEnt, emptyEnt, top(empty, types.OCIImageIndex)}, LoadOptions{}, types.OCIImageIndex},
		{"as listed", []tarEntry{cfgEnt, ociEnt, top(oci, types.OCIManifestSchema1)}, LoadOptions{}, types.OCIManifestSchema1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			got, err := Load(context.Background(), s, bytes.NewReader(writeTar(t, tt.ents)), tt.opts)
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			if len(got) != 1 || got[0].Manifest.MediaType != tt.want {
				t.Fatalf("Load() = %+v, want one image of type %s", got, tt.want)
			}
			d, err := s.Resolve(got[0].Ref)
			if err != nil || d.MediaType != tt.want {
				t.Errorf("store has %s as %v (%v), want %s", got[0].Ref, d.MediaType, err, tt.want)
			}
		})
	}
}
