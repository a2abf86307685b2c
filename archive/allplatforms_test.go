package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
)

// TestAllPlatformsRoundTrip is the "bundle for another architecture" workflow: a store holding
// the two-platform alpine index saves it whole (oci-archive, oci-dir), a fresh store loads it
// with every digest kept, and that store saves the arm64 image alone.
func TestAllPlatformsRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir, idx := alpineIndexLayout(t)
	idxDigest, _ := idx.Digest()
	src := newStore(t)
	if _, err := LoadDir(ctx, src, dir, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, err := src.FindImage("docker.io/library/alpine:3.20.3")
	if err != nil || ref.Descriptor.Digest != idxDigest {
		t.Fatalf("FindImage() = %v, %v; want the index %s", ref.Descriptor.Digest, err, idxDigest)
	}
	want := storedBlobs(t, src)

	var buf bytes.Buffer
	if err := Save(ctx, &buf, src, []cache.Ref{ref}, SaveOptions{Format: DockerArchive, AllPlatforms: true}); !errors.Is(err, ErrAllPlatformsDocker) {
		t.Errorf("Save(docker-archive, all platforms) = %v, want ErrAllPlatformsDocker", err)
	}

	tests := []struct {
		format Format
		load   func(t *testing.T, s *cache.Store, saved string) ([]Loaded, error)
	}{
		{OCIArchive, func(t *testing.T, s *cache.Store, saved string) ([]Loaded, error) {
			f, err := os.Open(saved)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			return Load(ctx, s, f, LoadOptions{})
		}},
		{OCIDir, func(t *testing.T, s *cache.Store, saved string) ([]Loaded, error) {
			return LoadDir(ctx, s, saved, LoadOptions{})
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			saved := filepath.Join(t.TempDir(), "bundle")
			opts := SaveOptions{Format: tt.format, AllPlatforms: true}
			if tt.format == OCIDir {
				err = SaveDir(ctx, saved, src, []cache.Ref{ref}, opts)
			} else {
				var b bytes.Buffer
				if err = Save(ctx, &b, src, []cache.Ref{ref}, opts); err == nil {
					err = os.WriteFile(saved, b.Bytes(), 0o644)
				}
			}
			if err != nil {
				t.Fatalf("saving all platforms = %v", err)
			}
			dst := newStore(t)
			got, err := tt.load(t, dst, saved)
			if err != nil {
				t.Fatalf("loading the bundle = %v", err)
			}
			if len(got) != 1 || got[0].Manifest.Digest != idxDigest || got[0].ID != idxDigest {
				t.Errorf("loaded %+v, want alpine:3.20.3 at the index %s", got, idxDigest)
			}
			if have := storedBlobs(t, dst); !slices.Equal(have, want) {
				t.Errorf("loaded store holds %v, want the source's %v", have, want)
			}

			// From the loaded store, one platform only.
			lref, err := dst.FindImage("docker.io/library/alpine:3.20.3")
			if err != nil {
				t.Fatal(err)
			}
			arm := v1.Platform{OS: "linux", Architecture: "arm64"}
			var one bytes.Buffer
			if err := Save(ctx, &one, dst, []cache.Ref{lref}, SaveOptions{Format: OCIArchive, Platform: &arm}); err != nil {
				t.Fatalf("Save(--platform linux/arm64) = %v", err)
			}
			armImg, err := testimages.AlpineImage(testdata(t), testimages.AlpineVersion, "arm64")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := archiveBlobs(t, one.Bytes()), imageBlobs(t, armImg); !slices.Equal(got, want) {
				t.Errorf("arm64 archive holds %v, want the arm64 image's %v", got, want)
			}
		})
	}
}

// archiveBlobs lists the blob digests (hex) an archive holds, sorted.
func archiveBlobs(t *testing.T, archive []byte) []string {
	t.Helper()
	var out []string
	for _, e := range readTar(t, archive) {
		if h, ok := strings.CutPrefix(e.hdr.Name, "blobs/sha256/"); ok && h != "" {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// imageBlobs lists an image's manifest, config and layer digests (hex), sorted.
func imageBlobs(t *testing.T, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	out := []string{d.Hex, m.Config.Digest.Hex}
	for _, l := range m.Layers {
		out = append(out, l.Digest.Hex)
	}
	slices.Sort(out)
	return out
}

// TestLoadPartialIndex: an index the archive holds only part of (docker save of a
// multi-platform image writes the platforms it has) loads this host's image.
func TestLoadPartialIndex(t *testing.T) {
	host := testimages.HostArch()
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[host]
	if other == "" {
		t.Skipf("the alpine fixture has no image for %s", host)
	}
	dir, idx := alpineIndexLayout(t)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var hostDigest v1.Hash
	for _, m := range im.Manifests {
		if m.Platform.Architecture == host {
			hostDigest = m.Digest
			continue
		}
		// The other platform's manifest is listed but missing.
		if err := os.Remove(filepath.Join(dir, "blobs", "sha256", m.Digest.Hex)); err != nil {
			t.Fatal(err)
		}
	}
	s := newStore(t)
	got, err := LoadDir(context.Background(), s, dir, LoadOptions{})
	if err != nil {
		t.Fatalf("LoadDir(partial index) = %v", err)
	}
	if len(got) != 1 || got[0].Manifest.Digest != hostDigest {
		t.Errorf("LoadDir(partial index) = %+v, want the %s image %s", got, host, hostDigest)
	}
	if n := len(storedBlobs(t, s)); n != 3 {
		t.Errorf("store has %d blobs, want the host image's 3", n)
	}
}

// TestLoadIndexHostile: indexes built to break a load that keeps them whole fail with one
// line and store nothing.
func TestLoadIndexHostile(t *testing.T) {
	dir, idx := alpineIndexLayout(t)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// nest wraps the index n times, each wrapper an index listing the one inside.
	nest := func(dir string, n int) {
		inner := v1.Descriptor{MediaType: types.OCIImageIndex}
		raw, _ := idx.RawManifest()
		inner.Digest, inner.Size = sha256Hash(raw), int64(len(raw))
		for range n {
			inner = writeIndexBlob(t, dir, inner)
		}
		writeTop(t, dir, inner)
	}
	tests := []struct {
		name    string
		change  func(dir string)
		wantMsg string
	}{
		{"nested too deep", func(dir string) { nest(dir, maxDepth+1) }, "nested"},
		{"10000 manifests", func(dir string) {
			many := make([]v1.Descriptor, 10000)
			for i := range many {
				many[i] = im.Manifests[i%len(im.Manifests)]
				many[i].Annotations = map[string]string{"n": fmt.Sprint(i)}
			}
			writeTop(t, dir, writeIndexBlob(t, dir, many...))
		}, "more than"},
		{"manifest with a bad digest", func(dir string) {
			p := filepath.Join(dir, "blobs", "sha256", im.Manifests[1].Digest.Hex)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-2] ^= 0x01
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "digest mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "layout")
			if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			tt.change(d)
			s := newStore(t)
			_, err := LoadDir(context.Background(), s, d, LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("LoadDir() = %v, want one line saying %q", err, tt.wantMsg)
			}
			if n := len(storedBlobs(t, s)); n != 0 {
				t.Errorf("store has %d blobs after a refused load, want 0", n)
			}
		})
	}
}

// writeIndexBlob writes an index listing children into dir's blobs and returns its descriptor.
func writeIndexBlob(t *testing.T, dir string, children ...v1.Descriptor) v1.Descriptor {
	t.Helper()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: children})
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: sha256Hash(raw), Size: int64(len(raw))}
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Digest.Hex), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// writeTop makes dir's index.json name d alpine:3.20.3.
func writeTop(t *testing.T, dir string, d v1.Descriptor) {
	t.Helper()
	d.Annotations = map[string]string{refNameAnnotation: "alpine:3.20.3"}
	b, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
