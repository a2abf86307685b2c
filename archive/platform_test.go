package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/registry"
)

// alpineIndexLayout writes the two-platform alpine index as an OCI layout directory, named
// alpine:3.20.3, as `skopeo copy --all` would.
func alpineIndexLayout(t *testing.T) (dir string, idx v1.ImageIndex) {
	t.Helper()
	idx, err := testimages.AlpineIndex(testdata(t), testimages.AlpineVersion)
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "layout")
	_, err = layout.Write(dir, idx)
	if err != nil {
		t.Fatal(err)
	}
	// layout.Write puts the index's manifests in index.json; name the index itself instead.
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := idx.MediaType()
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Hex), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	top := v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{{
		MediaType: mt, Digest: d, Size: int64(len(raw)),
		Annotations: map[string]string{refNameAnnotation: "alpine:3.20.3"},
	}}}
	b, _ := json.Marshal(top)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, idx
}

// TestLoadIndexPlatform: an archive naming a multi-platform index loads it whole when no
// platform is asked for; with --platform, the manifest of that platform only, as pull does,
// naming the platforms it has when none matches.
func TestLoadIndexPlatform(t *testing.T) {
	dir, idx := alpineIndexLayout(t)
	idxDigest, _ := idx.Digest()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	byArch := map[string]v1.Hash{}
	for _, m := range im.Manifests {
		byArch[m.Platform.Architecture] = m.Digest
	}
	tests := []struct {
		platform  v1.Platform
		want      v1.Hash
		wantBlobs int // an image is its layer, config and manifest
		wantErr   error
	}{
		{v1.Platform{}, idxDigest, 7, nil},
		{registry.DefaultPlatform(), byArch[testimages.HostArch()], 3, nil},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, byArch["arm64"], 3, nil},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, byArch["arm64"], 3, nil},
		{v1.Platform{OS: "linux", Architecture: "s390x"}, v1.Hash{}, 0, registry.ErrNoMatchingPlatform},
	}
	for _, tt := range tests {
		name := tt.platform.String()
		if name == "" {
			name = "whole"
		}
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			got, err := LoadDir(context.Background(), s, dir, LoadOptions{Platform: tt.platform})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("LoadDir() = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadDir() = %v", err)
			}
			if len(got) != 1 || got[0].Manifest.Digest != tt.want || got[0].Ref != "docker.io/library/alpine:3.20.3" {
				t.Errorf("LoadDir() = %+v, want alpine:3.20.3 at %s", got, tt.want)
			}
			if n := len(storedBlobs(t, s)); n != tt.wantBlobs {
				t.Errorf("store has %d blobs, want %d", n, tt.wantBlobs)
			}
		})
	}
}

// TestSavePlatforms: --platform and --all-platforms against a store holding one platform, and
// against a ref that names an index.
func TestSavePlatforms(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	single := put(t, s, "docker.io/library/alpine:3.20.3", alpine(t))
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	host := registry.DefaultPlatform()
	other := v1.Platform{OS: "linux", Architecture: "s390x"}

	// An index ref, stored blob by blob as a load of an index would if it kept it.
	dir, idx := alpineIndexLayout(t)
	idxDigest, _ := idx.Digest()
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if err := s.WriteBlob(ctx, v1.Descriptor{Digest: h, Size: int64(len(b))}, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := idx.RawManifest()
	mt, _ := idx.MediaType()
	multi := cache.Ref{Name: "docker.io/library/alpine:multi", Descriptor: v1.Descriptor{MediaType: mt, Digest: idxDigest, Size: int64(len(raw))}}

	tests := []struct {
		name       string
		ref        cache.Ref
		opts       SaveOptions
		wantErr    error
		wantImages int // manifests of images in the archive
	}{
		{"single as stored", single, SaveOptions{}, nil, 1},
		{"single, its own platform", single, SaveOptions{Platform: &host}, nil, 1},
		{"single, another platform", single, SaveOptions{Platform: &other}, ErrNoIndex, 0},
		{"single, all platforms", single, SaveOptions{AllPlatforms: true}, ErrNoIndex, 0},
		{"index, host platform", multi, SaveOptions{}, nil, 1},
		{"index, arm64", multi, SaveOptions{Platform: &arm}, nil, 1},
		{"index, missing platform", multi, SaveOptions{Platform: &other}, registry.ErrNoMatchingPlatform, 0},
		{"index, all platforms", multi, SaveOptions{AllPlatforms: true}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.opts.Format = OCIArchive
			err := Save(ctx, &buf, s, []cache.Ref{tt.ref}, tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Save() = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Save() = %v", err)
			}
			configs := 0
			for _, e := range readTar(t, buf.Bytes()) {
				var m v1.Manifest
				if json.Unmarshal(e.data, &m) == nil && m.Config.Digest.Hex != "" {
					configs++
				}
			}
			if configs != tt.wantImages {
				t.Errorf("archive holds %d image manifests, want %d", configs, tt.wantImages)
			}
			// Whatever was saved loads back, as the host's platform or the one asked for.
			lo := LoadOptions{}
			if tt.opts.Platform != nil {
				lo.Platform = *tt.opts.Platform
			}
			if _, err := Load(ctx, newStore(t), bytes.NewReader(buf.Bytes()), lo); err != nil {
				t.Errorf("Load(saved) = %v", err)
			}
		})
	}
}

// TestLoadCompressed: `docker save | gzip` loads as it is.
func TestLoadCompressed(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(save(t, src, DockerArchive, ref))
	zw.Close()
	got, err := Load(context.Background(), newStore(t), &gz, LoadOptions{})
	if err != nil {
		t.Fatalf("Load(gzip) = %v", err)
	}
	if len(got) != 1 || got[0].Manifest.Digest != ref.Descriptor.Digest {
		t.Errorf("Load(gzip) = %+v, want %s", got, ref.Descriptor.Digest)
	}
}
