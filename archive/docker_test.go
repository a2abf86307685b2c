package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
)

// oldDockerArchive builds what `docker save` wrote before Docker 25, for two images sharing
// the alpine layer: <id>/layer.tar (uncompressed), <id>/json, <id>/VERSION, <config>.json,
// manifest.json and repositories; the second image's copy of the shared layer is a symlink to
// the first, as docker writes it.
func oldDockerArchive(t *testing.T) (archive []byte, base, top []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata(t), "alpine", "alpine-minirootfs-"+testimages.AlpineVersion+"-x86_64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	base, err = io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 6}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("hello\n"))
	tw.Close()
	top = tb.Bytes()

	config := func(layers ...[]byte) []byte {
		cfg := v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}}
		cfg.Config.Cmd = []string{"/bin/sh"}
		for _, l := range layers {
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, sha256Hash(l))
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg1, cfg2 := config(base), config(base, top)
	c1, c2 := sha256Hash(cfg1).Hex, sha256Hash(cfg2).Hex
	mj, _ := json.Marshal([]dockerManifest{
		{Config: c1 + ".json", RepoTags: []string{"alpine:old"}, Layers: []string{"aaaa/layer.tar"}},
		{Config: c2 + ".json", RepoTags: []string{"example.com/app:1", "app:latest"}, Layers: []string{"bbbb/layer.tar", "cccc/layer.tar"}},
	})
	ents := []tarEntry{
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "aaaa/", Mode: 0o755}},
		file("aaaa/VERSION", []byte("1.0")),
		file("aaaa/json", []byte("{}")),
		file("aaaa/layer.tar", base),
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "bbbb/", Mode: 0o755}},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "bbbb/layer.tar", Linkname: "../aaaa/layer.tar"}},
		file("cccc/layer.tar", top),
		file(c1+".json", cfg1),
		file(c2+".json", cfg2),
		file("manifest.json", mj),
		file("repositories", []byte(`{"alpine":{"old":"aaaa"}}`)),
	}
	return writeTar(t, ents), base, top
}

// TestLoadOldDocker loads a pre-25 docker archive: layers keep their digests (which are their
// DiffIDs) and the docker tar media type, the shared layer is stored once, and every RepoTag
// becomes a ref.
func TestLoadOldDocker(t *testing.T) {
	archive, base, top := oldDockerArchive(t)
	s := newStore(t)
	got, err := Load(context.Background(), s, bytes.NewReader(archive), LoadOptions{})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	wantRefs := []string{"docker.io/library/alpine:old", "example.com/app:1", "docker.io/library/app:latest"}
	if len(got) != len(wantRefs) {
		t.Fatalf("Load() = %+v, want %v", got, wantRefs)
	}
	for i, want := range wantRefs {
		if got[i].Ref != want {
			t.Errorf("Load()[%d].Ref = %s, want %s", i, got[i].Ref, want)
		}
	}
	info, err := s.Info(cache.Ref{Name: got[1].Ref, Descriptor: got[1].Manifest})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range [][]byte{base, top} {
		if info.Layers[i].Digest != sha256Hash(l) || info.Layers[i].MediaType != types.DockerUncompressedLayer {
			t.Errorf("layer %d = %s %s, want %s %s", i, info.Layers[i].MediaType, info.Layers[i].Digest, types.DockerUncompressedLayer, sha256Hash(l))
		}
		if info.Layers[i].Digest != info.Config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d digest %s is not its DiffID %s", i, info.Layers[i].Digest, info.Config.RootFS.DiffIDs[i])
		}
	}
	// Two layers, two configs, two manifests: the symlinked copy is the same blob.
	if n := len(storedBlobs(t, s)); n != 6 {
		t.Errorf("store has %d blobs, want 6", n)
	}
	// Loading again changes nothing: same manifest digest, every blob already there.
	again, err := Load(context.Background(), s, bytes.NewReader(archive), LoadOptions{})
	if err != nil {
		t.Fatalf("second Load() = %v", err)
	}
	if again[0].Manifest.Digest != got[0].Manifest.Digest {
		t.Errorf("second load made manifest %s, first %s", again[0].Manifest.Digest, got[0].Manifest.Digest)
	}
}

// TestLoadOldDockerWrongLayer: an uncompressed layer that is not the DiffID its config lists.
func TestLoadOldDockerWrongLayer(t *testing.T) {
	archive, _, _ := oldDockerArchive(t)
	ents := readTar(t, archive)
	for i := range ents {
		if ents[i].hdr.Name == "cccc/layer.tar" {
			ents[i].data = append(bytes.Clone(ents[i].data), make([]byte, 512)...)
		}
	}
	s := newStore(t)
	_, err := Load(context.Background(), s, bytes.NewReader(writeTar(t, ents)), LoadOptions{})
	if !errors.Is(err, errDiffID) {
		t.Fatalf("Load() = %v, want %v", err, errDiffID)
	}
	if b := storedBlobs(t, s); len(b) != 0 {
		t.Errorf("store holds %d blobs after a failed load", len(b))
	}
}

// TestLoadNames covers how images get their names: Docker 25's bare-tag annotation with the
// containerd name, a full name in the spec annotation, and none (then LoadOptions.Name).
func TestLoadNames(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	oci := readTar(t, save(t, src, OCIArchive, ref))
	setAnnotations := func(a map[string]string) []byte {
		ents := make([]tarEntry, len(oci))
		copy(ents, oci)
		for i, e := range ents {
			if e.hdr.Name == "index.json" {
				var idx v1.IndexManifest
				if err := json.Unmarshal(e.data, &idx); err != nil {
					t.Fatal(err)
				}
				idx.Manifests[0].Annotations = a
				ents[i].data, _ = json.Marshal(idx)
			}
		}
		return writeTar(t, ents)
	}
	tests := []struct {
		name    string
		archive []byte
		opt     string
		want    string
		wantErr error
	}{
		{"docker 25", save(t, src, DockerArchive, ref), "", "docker.io/library/alpine:3.20.3", nil},
		{"spec annotation with name", setAnnotations(map[string]string{refNameAnnotation: "alpine:edge"}), "", "docker.io/library/alpine:edge", nil},
		{"bare tag only, stored unnamed", setAnnotations(map[string]string{refNameAnnotation: "latest"}), "", "", nil},
		{"unnamed, stored unnamed", setAnnotations(nil), "", "", nil},
		{"unnamed with a name", setAnnotations(nil), "mine:1", "docker.io/library/mine:1", nil},
		{"name given but archive names it", setAnnotations(map[string]string{containerdNameAnnotation: "x/y:2"}), "mine:1", "docker.io/x/y:2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			got, err := Load(context.Background(), s, bytes.NewReader(tt.archive), LoadOptions{Name: tt.opt})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Load() = %v, want %v", err, tt.wantErr)
				}
				if b := storedBlobs(t, s); len(b) != 0 {
					t.Errorf("store holds %d blobs after a failed load", len(b))
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() = %v", err)
			}
			if len(got) != 1 || got[0].Ref != tt.want || got[0].Manifest.Digest != ref.Descriptor.Digest {
				t.Errorf("Load() = %+v, want %s at %s", got, tt.want, ref.Descriptor.Digest)
			}
		})
	}
}
