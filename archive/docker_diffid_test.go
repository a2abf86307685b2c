package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// tarOf is a layer tar of one file of size bytes.
func tarOf(t *testing.T, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: int64(size)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(bytes.Repeat([]byte("x"), size)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func zstded(t *testing.T, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll(b, nil)
}

// TestLoadCompressedLayerDiffID: a docker archive of compressed layers (crane, ko, jib,
// kaniko and bazel write them so, layers as <digest>.tar.gz) is checked as one of plain
// layer.tars is: each layer, decompressed, must be the DiffID its config lists. It was
// checked only when uncompressed, so a layer that was not the config's (damaged, or built
// to lie) loaded as an image that failed only when run, where docker load refuses it. A
// layer listed a thousand times is decompressed once.
func TestLoadCompressedLayerDiffID(t *testing.T) {
	layer := tarOf(t, 4096)
	other := tarOf(t, 4095)
	archive := func(t *testing.T, layerFile []byte, diffIDs ...v1.Hash) []tarEntry {
		names := make([]string, len(diffIDs))
		for i := range names {
			names[i] = "l.tar.gz"
		}
		cfg := mustJSON(t, v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}})
		return []tarEntry{
			file("l.tar.gz", layerFile),
			file("c.json", cfg),
			file("manifest.json", mustJSON(t, []dockerManifest{{Config: "c.json", RepoTags: []string{"example.com/crane:1"}, Layers: names}})),
		}
	}
	gz := gzipped(t, layer)
	for _, tt := range []struct {
		name string
		ents []tarEntry
		want error // nil: loads
	}{
		{"gzip", archive(t, gz, sha256Hash(layer)), nil},
		{"zstd", archive(t, zstded(t, layer), sha256Hash(layer)), nil},
		{"gzip of another layer", archive(t, gzipped(t, other), sha256Hash(layer)), errDiffID},
		{"zstd of another layer", archive(t, zstded(t, other), sha256Hash(layer)), errDiffID},
		{"gzip cut short", archive(t, gz[:len(gz)-12], sha256Hash(layer)), nil},
	} {
		for _, form := range []string{"tar", "directory"} {
			t.Run(tt.name+"/"+form, func(t *testing.T) {
				s := newStore(t)
				var err error
				if form == "tar" {
					_, err = Load(context.Background(), s, bytes.NewReader(writeTar(t, tt.ents)), LoadOptions{})
				} else {
					dir := t.TempDir()
					unpack(t, tt.ents, dir)
					_, err = LoadDir(context.Background(), s, dir, LoadOptions{})
				}
				switch {
				case strings.HasSuffix(tt.name, "cut short"):
					if err == nil {
						t.Fatal("load of a layer cut short succeeded")
					}
				case tt.want == nil && err != nil:
					t.Fatalf("load = %v", err)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Fatalf("load = %v, want %v", err, tt.want)
				}
				if err != nil {
					if strings.Contains(err.Error(), "\n") {
						t.Errorf("load = %q, want one line", err)
					}
					if refs, _ := s.List(); len(refs) != 0 {
						t.Errorf("store holds refs %v after a failed load", refs)
					}
				}
			})
		}
	}

	t.Run("listed a thousand times", func(t *testing.T) {
		big := make([]byte, 32<<20) // a layer of zeros: 32 MiB that gzip to 32 KiB
		ids := make([]v1.Hash, 1000)
		id := sha256Hash(big)
		for i := range ids {
			ids[i] = id
		}
		dir := t.TempDir()
		unpack(t, archive(t, gzipped(t, big), ids...), dir)
		done := make(chan error, 1)
		go func() {
			_, err := LoadDir(context.Background(), newStore(t), dir, LoadOptions{})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("LoadDir() = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("LoadDir() still runs after 10s")
		}
	})
}
