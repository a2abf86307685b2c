package archive

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestLoadRepeatedManifests: an archive of a few MB that lists one big manifest thousands of
// times (index.json naming an index again and again, the index naming the manifest) must
// cost the reading of each distinct manifest once, not once per listing: otherwise a small
// archive keeps a load hashing and parsing gigabytes.
func TestLoadRepeatedManifests(t *testing.T) {
	cfgEnt, cfg := blobEntry(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	big := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{},
		Annotations: map[string]string{"pad": strings.Repeat("x", 3<<20)}}
	manEnt, man := blobEntry(types.OCIManifestSchema1, mustJSON(t, big))
	many := make([]v1.Descriptor, 1000)
	for i := range many {
		many[i] = man
		many[i].Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	idxEnt, idx := blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: many}))
	for _, tt := range []struct {
		name string
		top  v1.Descriptor
		opts LoadOptions
	}{
		{"index kept whole", idx, LoadOptions{}},
		{"one platform", idx, LoadOptions{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}},
		{"manifest", man, LoadOptions{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tops := make([]v1.Descriptor, 1000)
			for i := range tops {
				tops[i] = tt.top
			}
			ents := []tarEntry{cfgEnt, manEnt, idxEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: tops}))}
			archive := writeTar(t, ents)
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := Load(context.Background(), newStore(t), bytes.NewReader(archive), tt.opts)
				done <- err
			}()
			select {
			case err := <-done:
				// Unnamed: planned whole, then stored unnamed.
				if err != nil {
					t.Fatalf("Load() = %v", err)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("Load() took %v", d)
				}
			case <-time.After(30 * time.Second):
				t.Fatal(fmt.Sprintf("Load() of a %d MB archive still runs after 30s", len(archive)>>20))
			}
		})
	}
}

// TestLoadDirRepeatedLayer: an old docker layout directory whose manifest.json lists one big
// layer.tar thousands of times is hashed once, not once per listing: a directory read in
// place has no staged digests, and each listing would read the whole file again.
func TestLoadDirRepeatedLayer(t *testing.T) {
	dir := t.TempDir()
	layer := bytes.Repeat([]byte("strata"), (32<<20)/6)
	if err := os.WriteFile(filepath.Join(dir, "l.tar"), layer, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	diffIDs := make([]v1.Hash, n)
	names := make([]string, n)
	diffID := sha256Hash(layer)
	for i := range n {
		diffIDs[i], names[i] = diffID, "l.tar"
	}
	cfg := mustJSON(t, v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}})
	if err := os.WriteFile(filepath.Join(dir, "c.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	mj := mustJSON(t, []dockerManifest{{Config: "c.json", Layers: names}})
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mj, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadDir(context.Background(), newStore(t), dir, LoadOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		// Unnamed: planned whole, then stored unnamed.
		if err != nil {
			t.Fatalf("LoadDir() = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("LoadDir() of a %d MB directory still runs after 20s", len(layer)>>20)
	}
}
