package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

func TestGeneratorsAreDeterministic(t *testing.T) {
	tests := []struct {
		name string
		gen  func(int) ([]byte, error)
	}{
		{"app", appLayer},
		{"small", smallLayer},
		{"multi", multiLayer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.gen(3)
			if err != nil {
				t.Fatalf("%s(3) = %v", tt.name, err)
			}
			b, err := tt.gen(3)
			if err != nil {
				t.Fatalf("%s(3) again = %v", tt.name, err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s(3) differs between two calls", tt.name)
			}
			c, err := tt.gen(4)
			if err != nil {
				t.Fatalf("%s(4) = %v", tt.name, err)
			}
			if bytes.Equal(a, c) {
				t.Errorf("%s(3) == %s(4), want distinct layers", tt.name, tt.name)
			}
		})
	}
}

func TestUnpackedSize(t *testing.T) {
	tests := []struct {
		name        string
		entries     []*tar.Header
		wantBytes   int64
		wantEntries int
	}{
		{"empty", nil, 0, 0},
		{"one byte file", []*tar.Header{{Typeflag: tar.TypeReg, Name: "a", Size: 1}}, 4096, 1},
		{"exact block", []*tar.Header{{Typeflag: tar.TypeReg, Name: "a", Size: 4096}}, 4096, 1},
		{"dir and file", []*tar.Header{{Typeflag: tar.TypeDir, Name: "d/"}, {Typeflag: tar.TypeReg, Name: "d/a", Size: 5000}}, 3 * 4096, 2},
		{"hard link is free", []*tar.Header{{Typeflag: tar.TypeReg, Name: "a", Size: 10}, {Typeflag: tar.TypeLink, Name: "b", Linkname: "a"}}, 4096, 2},
		{"symlink is free", []*tar.Header{{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "a"}}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tt.entries {
				if err := tw.WriteHeader(h); err != nil {
					t.Fatal(err)
				}
				if _, err := tw.Write(make([]byte, h.Size)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			got, n, err := unpackedSize(&buf)
			if err != nil || got != tt.wantBytes || n != tt.wantEntries {
				t.Errorf("unpackedSize = %d, %d, %v, want %d, %d, nil", got, n, err, tt.wantBytes, tt.wantEntries)
			}
		})
	}
}

func TestUnpackedSizeRejectsGarbage(t *testing.T) {
	if _, _, err := unpackedSize(strings.NewReader(strings.Repeat("x", 1024))); err == nil {
		t.Errorf("unpackedSize(garbage) = nil error, want an error")
	}
}

func TestParseCounts(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"1,10,50,120", []int{1, 10, 50, 120}, false},
		{" 2 , 3 ", []int{2, 3}, false},
		{"", nil, false},
		{"0", nil, true},
		{"501", nil, true},
		{"x", nil, true},
	}
	for _, tt := range tests {
		got, err := parseCounts(tt.in)
		if (err != nil) != tt.wantErr || len(got) != len(tt.want) {
			t.Errorf("parseCounts(%q) = %v, %v, want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("parseCounts(%q) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}

// TestRunPushesSharedBase pushes a reduced set to an in-memory registry and checks what
// run.sh and the report rely on: the app images share their base layer by digest, and the
// N-layer images have N layers.
func TestRunPushesSharedBase(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	base, err := smallLayer(0)
	if err != nil {
		t.Fatal(err)
	}
	basePath := filepath.Join(dir, "base.tar.gz")
	if err := os.WriteFile(basePath, base, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "images.json")
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := run(context.Background(), host, basePath, basePath, 2, "1,3", false, out); err != nil {
		t.Fatalf("run = %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var images []Image
	if err := json.Unmarshal(b, &images); err != nil {
		t.Fatalf("decoding images.json: %v", err)
	}
	byName := map[string]Image{}
	for _, img := range images {
		byName[img.Name] = img
	}
	for name, layers := range map[string]int{"alpine": 1, "debian": 1, "app0": 2, "app1": 2, "layers1": 1, "layers3": 3} {
		if got := len(byName[name].Layers); got != layers {
			t.Errorf("image %s has %d layers, want %d", name, got, layers)
		}
	}
	if a, b := byName["app0"], byName["app1"]; len(a.Layers) == 2 && len(b.Layers) == 2 {
		if a.Layers[0].Digest != b.Layers[0].Digest {
			t.Errorf("app0 base %s != app1 base %s, want one shared layer", a.Layers[0].Digest, b.Layers[0].Digest)
		}
		if a.Layers[1].Digest == b.Layers[1].Digest {
			t.Errorf("app0 and app1 share their unique layer %s", a.Layers[1].Digest)
		}
		if a.Layers[1].Unpacked < 4<<20 {
			t.Errorf("app0 unique layer unpacks to %d bytes, want at least 4 MiB", a.Layers[1].Unpacked)
		}
	}
	if byName["alpine"].Ref != host+"/bench/alpine:3.20.3" {
		t.Errorf("alpine ref = %q, want %q", byName["alpine"].Ref, host+"/bench/alpine:3.20.3")
	}
}
