package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fakeIndex is a v1.ImageIndex serving raw as its manifest and answering every child with
// child (or itself when child is nil), as a hostile registry may. fetches counts the children
// asked for.
type fakeIndex struct {
	raw     []byte
	child   func(h v1.Hash) (v1.Image, error)
	fetches atomic.Int64
}

func (f *fakeIndex) RawManifest() ([]byte, error) { return f.raw, nil }
func (f *fakeIndex) Digest() (v1.Hash, error)     { return digestOf(f.raw), nil }
func (f *fakeIndex) Size() (int64, error)         { return int64(len(f.raw)), nil }
func (f *fakeIndex) IndexManifest() (*v1.IndexManifest, error) {
	var im v1.IndexManifest
	err := json.Unmarshal(f.raw, &im)
	return &im, err
}
func (f *fakeIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

func (f *fakeIndex) ImageIndex(v1.Hash) (v1.ImageIndex, error) {
	f.fetches.Add(1)
	return f, nil
}

var _ v1.ImageIndex = (*fakeIndex)(nil)

func (f *fakeIndex) Image(h v1.Hash) (v1.Image, error) {
	f.fetches.Add(1)
	if f.child == nil {
		return nil, fmt.Errorf("image %s: %w", h, ErrNotFound)
	}
	return f.child(h)
}

func rawIndex(t *testing.T, children ...v1.Descriptor) []byte {
	t.Helper()
	b, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: children})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWriteIndexHostile: indexes a hostile registry may serve fail with one line, before any
// layer is fetched, and leave no ref.
func TestWriteIndexHostile(t *testing.T) {
	img := imageOf(t, seededLayers(t, 71, 1, 1024)...)
	imgDigest, _ := img.Digest()
	imgRaw, _ := img.RawManifest()
	imgDesc := v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: imgDigest, Size: int64(len(imgRaw)), Platform: &amd64}

	// An index whose every child is an index that answers with the same bytes again.
	selfish := &fakeIndex{}
	selfish.raw = rawIndex(t, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: imgDigest, Size: 400})
	selfish.raw = rawIndex(t, v1.Descriptor{MediaType: types.OCIImageIndex, Digest: imgDigest, Size: int64(len(selfish.raw))})

	// Indexes nested one deeper than MaxIndexDepth allows.
	var nested v1.ImageIndex = mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &amd64}})
	for range MaxIndexDepth + 1 {
		nested = mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: nested})
	}

	// A child whose manifest bytes are not what its digest says.
	lying := &fakeIndex{raw: rawIndex(t, imgDesc), child: func(v1.Hash) (v1.Image, error) {
		return &lyingImage{Image: img, manifest: append([]byte(" "), imgRaw[1:]...)}, nil
	}}

	// 10,000 children: refused before any is fetched.
	many := make([]v1.Descriptor, 10000)
	for i := range many {
		many[i] = v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: digestOf(fmt.Appendf(nil, "%d", i)), Size: 500}
	}
	crowded := &fakeIndex{raw: rawIndex(t, many...)}

	// A child digest strata cannot store (sha512): refused before it names a path.
	sha512, err := v1.NewHash("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
	if err != nil {
		t.Fatal(err)
	}
	escaping := &fakeIndex{raw: rawIndex(t, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: sha512, Size: 10})}

	// A child that is an image manifest and lists manifests too: readers refuse to read it
	// back as an image, and Infos with it.
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	both, err := partial.CompressedToImage(rawImage{[]byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digestOf(cfg).String() + `","size":` + fmt.Sprint(len(cfg)) + `},"layers":[],"manifests":[]}`), cfg})
	if err != nil {
		t.Fatal(err)
	}
	twoFaced := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: both, Descriptor: v1.Descriptor{Platform: &amd64}})

	tests := []struct {
		name    string
		idx     v1.ImageIndex
		wantErr error
		fetched *atomic.Int64 // children asked for; must stay 0 when set
	}{
		{"answers its child with itself", selfish, ErrDigestMismatch, nil},
		{"nested too deep", nested, ErrInvalidIndex, nil},
		{"child manifest with a bad digest", lying, ErrDigestMismatch, nil},
		{"10000 children", crowded, ErrInvalidIndex, &crowded.fetches},
		{"child digest not sha256", escaping, ErrInvalidDigest, &escaping.fetches},
		{"lists no images", empty.Index, ErrInvalidIndex, nil},
		{"child is an image and an index", twoFaced, ErrInvalidIndex, nil},
		{"lists only an index of nothing", mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: empty.Index}), ErrInvalidIndex, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			_, err := s.WriteIndex(context.Background(), "example.com/hostile:1", tt.idx, WriteOptions{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("WriteIndex() = %v, want %v", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("WriteIndex() error has several lines: %q", err)
			}
			if tt.fetched != nil && tt.fetched.Load() != 0 {
				t.Errorf("WriteIndex() fetched %d children before refusing", tt.fetched.Load())
			}
			if _, err := s.Resolve("example.com/hostile:1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve() after a refused index = %v, want ErrNotFound", err)
			}
			if blobs := storedBlobCount(t, s); blobs != 0 {
				t.Errorf("store holds %d blobs after a refused index, want 0", blobs)
			}
		})
	}
}

// TestIndexWalkCycles: an index listing itself or an index above it is refused. Digests make
// such a cycle impossible for verified content, so this guards the walk of what a corrupted
// store (or a bug) would present.
func TestIndexWalkCycles(t *testing.T) {
	a := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: digestOf([]byte("a")), Size: 1}
	b := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: digestOf([]byte("b")), Size: 1}
	tests := []struct {
		name      string
		d         v1.Descriptor
		children  []v1.Descriptor
		ancestors []v1.Hash
		wantErr   error
	}{
		{"lists itself", a, []v1.Descriptor{a}, nil, ErrInvalidIndex},
		{"lists its parent", b, []v1.Descriptor{a}, []v1.Hash{a.Digest}, ErrInvalidIndex},
		{"lists another", a, []v1.Descriptor{b}, nil, nil},
	}
	for _, tt := range tests {
		var w indexWalk
		err := w.enter(tt.d, tt.children, 1, tt.ancestors)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%s: enter() = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
}

func storedBlobCount(t *testing.T, s *Store) int {
	t.Helper()
	removed, _, err := s.Prune(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return len(removed)
}

// TestWriteIndexPlanBound: what WriteIndex holds in memory before it stores anything is
// bounded in all, not only per manifest and config: an index of many images with big configs
// is refused once they add up to more than maxPlanned, and nothing is stored.
func TestWriteIndexPlanBound(t *testing.T) {
	defer func(m int64) { maxPlanned = m }(maxPlanned)
	maxPlanned = 64 << 10
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i := range 4 {
		img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: fmt.Sprint("arch", i),
			RootFS: v1.RootFS{Type: "layers"}, Config: v1.Config{Labels: map[string]string{"pad": strings.Repeat(fmt.Sprint(i), 20<<10)}}})
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: fmt.Sprint("arch", i)}}})
	}
	s := openStore(t, t.TempDir())
	_, err := s.WriteIndex(context.Background(), "example.com/big:1", idx, WriteOptions{})
	if !errors.Is(err, ErrTooLarge) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("WriteIndex() of 80 KiB of configs with a bound of 64 KiB = %v, want one line of ErrTooLarge", err)
	}
	if _, err := s.Resolve("example.com/big:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve() after a refused index = %v, want ErrNotFound", err)
	}
	if blobs := storedBlobCount(t, s); blobs != 0 {
		t.Errorf("store holds %d blobs after a refused index, want 0", blobs)
	}
}
