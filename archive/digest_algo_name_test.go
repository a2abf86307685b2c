package archive

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// TestLoadDigestAlgorithmName: an index.json annotation naming an image "sha256:<hex>" (as
// another tool may write its ref name) is ignored, and said so, and the image loaded without
// it, as docker's containerd store loads it; it failed the whole load. The store still never
// holds the name, which would read as an image ID, and manifest.json's RepoTags still refuse
// it, as docker's reference store does.
func TestLoadDigestAlgorithmName(t *testing.T) {
	cfgEnt, cfg := blobEntry(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	manEnt, man := blobEntry(types.OCIManifestSchema1, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{}}))
	digestName := "sha256:" + strings.Repeat("ab", 32)
	layout := func(annotations map[string]string) []byte {
		d := man
		d.Annotations = annotations
		return writeTar(t, []tarEntry{cfgEnt, manEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}}))})
	}
	for _, ann := range []map[string]string{
		{refNameAnnotation: digestName},
		{containerdNameAnnotation: "docker.io/library/" + digestName, refNameAnnotation: "latest"},
	} {
		s := newStore(t)
		got, err := Load(context.Background(), s, bytes.NewReader(layout(ann)), LoadOptions{})
		if err != nil {
			t.Fatalf("Load of an image named %v = %v; want it loaded without the name", ann, err)
		}
		if len(got) != 1 || got[0].Ref != "" || got[0].ID != cfg.Digest {
			t.Fatalf("Load() = %+v; want the image stored unnamed", got)
		}
		if ig := got[0].Ignored; len(ig) != 1 || !strings.HasSuffix(ig[0].Name, digestName) || !errors.Is(ig[0].Reason, cache.ErrAmbiguousName) {
			t.Errorf("Loaded.Ignored = %+v; want the name %s, ambiguous", ig, digestName)
		}
		if refs, err := s.List(); err != nil || len(refs) != 0 {
			t.Errorf("store refs after the load = %v, %v; want none", refs, err)
		}
	}

	s := newStore(t)
	got, err := Load(context.Background(), s, bytes.NewReader(layout(map[string]string{refNameAnnotation: digestName})), LoadOptions{Name: "example.com/app:1"})
	if err != nil || len(got) != 1 || got[0].Ref != "example.com/app:1" {
		t.Errorf("Load with --name = %+v, %v; want the image named example.com/app:1", got, err)
	}

	dockerArchive := writeTar(t, []tarEntry{cfgEnt,
		file("manifest.json", mustJSON(t, []dockerManifest{{Config: blobName(cfg.Digest), RepoTags: []string{digestName}}}))})
	loadFails(t, bytes.NewReader(dockerArchive), LoadOptions{}, cache.ErrAmbiguousName, digestName)
}
