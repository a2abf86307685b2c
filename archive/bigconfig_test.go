package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/registry"
)

// TestLoadDockerBigConfig: a docker archive (manifest.json, no index.json, as docker save wrote
// before 25) whose config is over the 4 MiB a manifest may have but within the MaxConfigSize a
// pull takes (an image with many labels) loads: its config was read under the manifests'
// limit, so load refused an image pull and commit accept.
func TestLoadDockerBigConfig(t *testing.T) {
	_, base, _ := oldDockerArchive(t)
	cfg := v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{sha256Hash(base)}}}
	cfg.Config.Labels = map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		cfg.Config.Labels[k] = strings.Repeat("x", 1<<20)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) <= registry.MaxManifestSize || len(raw) > registry.MaxConfigSize {
		t.Fatalf("config of %d bytes, want one between the limits", len(raw))
	}
	c := sha256Hash(raw).Hex
	mj, _ := json.Marshal([]dockerManifest{{Config: c + ".json", RepoTags: []string{"big:1"}, Layers: []string{"aaaa/layer.tar"}}})
	archive := writeTar(t, []tarEntry{file("aaaa/layer.tar", base), file(c+".json", raw), file("manifest.json", mj)})
	s := newStore(t)
	if _, err := Load(context.Background(), s, bytes.NewReader(archive), LoadOptions{}); err != nil {
		t.Fatalf("Load = %v", err)
	}
	if _, err := s.Resolve("docker.io/library/big:1"); err != nil {
		t.Errorf("Resolve(big:1) after load = %v", err)
	}
}
