package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
)

// TestSavePinnedIndexLoads: an index stored under a name pinning its digest
// ("alpine@sha256:<index>", as a pull or load by digest keeps it) saves, without
// --all-platforms, the manifest of one platform. The archive named that manifest
// "alpine@sha256:<index>", a digest it is not, and its load (which keeps a pin only of the
// digest an archive lists an image by) refused the archive strata save had just written:
// "image has no name in the archive". The name now pins the manifest saved; --all-platforms,
// which saves the index itself, keeps the index's pin.
func TestSavePinnedIndexLoads(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
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
	desc := v1.Descriptor{MediaType: mt, Digest: idxDigest, Size: int64(len(raw))}
	name := "docker.io/library/alpine@" + idxDigest.String()
	if err := s.Tag(name, desc); err != nil {
		t.Fatal(err)
	}
	ref := cache.Ref{Name: name, Descriptor: desc}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var host v1.Hash
	for _, m := range im.Manifests {
		if m.Platform.Architecture == testimages.HostArch() {
			host = m.Digest
		}
	}
	for _, tt := range []struct {
		format Format
		opts   SaveOptions
		want   string
	}{
		{DockerArchive, SaveOptions{}, "docker.io/library/alpine@" + host.String()},
		{OCIArchive, SaveOptions{}, "docker.io/library/alpine@" + host.String()},
		{OCIArchive, SaveOptions{AllPlatforms: true}, name},
	} {
		label := string(tt.format)
		if tt.opts.AllPlatforms {
			label += " all platforms"
		}
		t.Run(label, func(t *testing.T) {
			var buf bytes.Buffer
			tt.opts.Format = tt.format
			if err := Save(ctx, &buf, s, []cache.Ref{ref}, tt.opts); err != nil {
				t.Fatalf("Save() = %v", err)
			}
			got, err := Load(ctx, newStore(t), bytes.NewReader(buf.Bytes()), LoadOptions{})
			if err != nil {
				t.Fatalf("Load(saved) = %v", err)
			}
			if len(got) != 1 || got[0].Ref != tt.want {
				t.Errorf("Load(saved) = %+v, want %s", got, tt.want)
			}
		})
	}
	t.Run("oci-dir", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		if err := SaveDir(ctx, out, s, []cache.Ref{ref}, SaveOptions{}); err != nil {
			t.Fatalf("SaveDir() = %v", err)
		}
		got, err := LoadDir(ctx, newStore(t), out, LoadOptions{})
		if err != nil {
			t.Fatalf("LoadDir(saved) = %v", err)
		}
		if want := "docker.io/library/alpine@" + host.String(); len(got) != 1 || got[0].Ref != want {
			t.Errorf("LoadDir(saved) = %+v, want %s", got, want)
		}
	})
}
