package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// manifestOf is an OCI image manifest naming config and listing layers (JSON, without the
// brackets).
func manifestOf(config []byte, layers string) []byte {
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}`,
		digestOf(config), len(config), layers)
}

func rawImageOf(t *testing.T, manifest, config []byte) v1.Image {
	t.Helper()
	img, err := partial.CompressedToImage(rawImage{manifest, config})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestManyValuesRefused: a manifest, index or config of a few hundred KB can hold a hundred
// thousand empty values ({} layers, {} history entries), which cost a hundred bytes and
// more each once parsed (16 MiB of them, under maxSmallBlob, took 2.4 GB for a config, and
// `images` parses every stored image's config). The store refuses them before parsing,
// whether the image is written alone or through an index, for any platform.
func TestManyValuesRefused(t *testing.T) {
	empties := strings.TrimSuffix(strings.Repeat("{},", maxJSONValues), ",")
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	hugeConfig := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"history":[` + empties + `]}`)
	manyHistory := rawImageOf(t, manifestOf(hugeConfig, ""), hugeConfig)
	manyLayers := rawImageOf(t, manifestOf(config, empties), config)
	other := v1.Platform{OS: "linux", Architecture: "s390x"}
	indexOf := func(img v1.Image) v1.ImageIndex {
		return mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &other}})
	}
	tests := []struct {
		name string
		img  v1.Image
		idx  v1.ImageIndex
	}{
		{"config of empty history entries", manyHistory, nil},
		{"manifest of empty layers", manyLayers, nil},
		{"config of another platform in an index", nil, indexOf(manyHistory)},
		{"manifest of another platform in an index", nil, indexOf(manyLayers)},
		{"index of empty manifests", nil, &fakeIndex{raw: []byte(`{"schemaVersion":2,"manifests":[` + empties + `]}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			var err error
			if tt.img != nil {
				_, err = s.WriteImage(context.Background(), testRef, tt.img, WriteOptions{})
			} else {
				_, err = s.WriteIndex(context.Background(), testRef, tt.idx, WriteOptions{Platform: amd64})
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("writing %s = %.200v, want ErrTooLarge", tt.name, err)
			}
			if _, err := s.Resolve(testRef); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve after a refused write = %v, want ErrNotFound", err)
			}
		})
	}

	// One stored before it was refused (or by WriteBlob and Tag) is described without its
	// config, as an artifact's is, rather than parsed on every `images`.
	s := openStore(t, t.TempDir())
	man := manifestOf(hugeConfig, "")
	for _, b := range [][]byte{hugeConfig, man} {
		if err := s.WriteBlob(context.Background(), v1.Descriptor{Digest: digestOf(b), Size: int64(len(b))}, strings.NewReader(string(b))); err != nil {
			t.Fatal(err)
		}
	}
	desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: digestOf(man), Size: int64(len(man))}
	if err := s.Tag(testRef, desc); err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(Ref{Name: testRef, Descriptor: desc})
	if err != nil {
		t.Fatalf("Info = %v", err)
	}
	if n := len(info.Config.History); n != 0 {
		t.Errorf("Info parsed a config of %d history entries, want it described without", n)
	}
}

// TestLayerListedTwiceDisagrees: one blob listed twice, by an image or by two platforms of an
// index, with two sizes, or with two DiffIDs in the image unpacked. The blob was stored as its
// first listing says and the write succeeded, leaving the other listing to name content that
// is not there: a blob size that never matches (the image never complete, so every pull
// fetched it all again) or a layer dir no unpack makes (the image never runs). One of the
// listings lies; the write is refused.
func TestLayerListedTwiceDisagrees(t *testing.T) {
	blob := []byte("one layer's bytes")
	d := digestOf(blob)
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		if h != d {
			return nil, ErrNotFound
		}
		return io.NopCloser(bytes.NewReader(blob[off:])), nil
	}
	layer := func(size int) string {
		return fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, d, size)
	}
	configOf := func(diffIDs ...v1.Hash) []byte {
		b, err := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	imageWith := func(layers string, diffIDs ...v1.Hash) v1.Image {
		cfg := configOf(diffIDs...)
		return rawImageOf(t, manifestOf(cfg, layers), cfg)
	}
	other := digestOf([]byte("another tar"))
	n := len(blob)
	twoPlatforms := func(a, b v1.Image) v1.ImageIndex {
		arm := v1.Platform{OS: "linux", Architecture: "arm64"}
		return mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: a, Descriptor: v1.Descriptor{Platform: &arm}},
			mutate.IndexAddendum{Add: b, Descriptor: v1.Descriptor{Platform: &amd64}})
	}
	tests := []struct {
		name    string
		img     v1.Image
		idx     v1.ImageIndex
		wantErr error // nil: stored
	}{
		{"twice alike", imageWith(layer(n)+","+layer(n), d, d), nil, nil},
		{"two sizes", imageWith(layer(n)+","+layer(n+5), d, d), nil, ErrSizeMismatch},
		{"two DiffIDs", imageWith(layer(n)+","+layer(n), d, other), nil, ErrDigestMismatch},
		{"two sizes in two platforms", nil, twoPlatforms(imageWith(layer(n+5), d), imageWith(layer(n), d)), ErrSizeMismatch},
		{"two sizes in two platforms, unpacked first", nil, twoPlatforms(imageWith(layer(n), d), imageWith(layer(n+5), d)), ErrSizeMismatch},
		{"shared by two platforms", nil, twoPlatforms(imageWith(layer(n), d), imageWith(layer(n), d)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			rec := newLayerRecorder()
			opts := WriteOptions{Fetch: fetch, Layer: rec.layer, Platform: amd64}
			var err error
			if tt.img != nil {
				_, err = s.WriteImage(context.Background(), testRef, tt.img, opts)
			} else {
				_, err = s.WriteIndex(context.Background(), testRef, tt.idx, opts)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("writing %s = %v", tt.name, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("writing %s = %v, want %v", tt.name, err, tt.wantErr)
			}
			if _, err := s.Resolve(testRef); !errors.Is(err, ErrNotFound) {
				t.Errorf("Resolve after a refused write = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestManyLayersFewGoroutines: the layers of an image are stored by Concurrency workers. One
// goroutine per layer, each waiting its turn, cost a 4 MiB manifest of 25,000 layers (what a
// registry may send) 200 MB of stacks before the first byte came.
func TestManyLayersFewGoroutines(t *testing.T) {
	img := imageOf(t, seededLayers(t, 72, 120, 16)...)
	reg := newFakeRegistry(t, img)
	base := runtime.NumGoroutine()
	var most atomic.Int64
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		if n := int64(runtime.NumGoroutine()); n > most.Load() {
			most.Store(n)
		}
		return reg.fetch(ctx, h, off)
	}
	s := openStore(t, t.TempDir())
	rec := newLayerRecorder()
	const workers = 3
	if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Concurrency: workers, Fetch: fetch, Layer: rec.layer}); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 120 {
		t.Fatalf("Layer got %d layers, want 120", len(rec.got))
	}
	// Each worker, and the Layer callback each runs; a few more for the runtime's own.
	if extra := most.Load() - int64(base); extra > 2*workers+8 {
		t.Errorf("storing 120 layers %d at a time ran %d goroutines at once, want at most %d", workers, extra, 2*workers+8)
	}
}

// timeoutErr is what a Fetcher returns when the registry stopped answering (registry's stall
// error is such a net.Error).
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "registry stalled" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// cutReader gives r's bytes, then err instead of io.EOF.
type cutReader struct {
	r   io.Reader
	err error
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, c.err
	}
	return n, err
}

// TestTimeoutEndsDownload: a fetch that timed out having brought next to nothing (the
// registry waited out a minute of silence, twice) ends the download at once, its partial
// kept for the next pull. Retried as a dropped connection, six times, a registry that stopped
// answering held a pull for half an hour. One that timed out after bringing something still
// resumes.
func TestTimeoutEndsDownload(t *testing.T) {
	img := imageOf(t, seededLayers(t, 73, 1, 200<<10)...)
	reg := newFakeRegistry(t, img)
	layer := layerDescs(t, img)[0]
	whole := reg.blobs[layer.Digest]
	tests := []struct {
		name      string
		upTo      int64 // bytes each fetch brings before it times out; 0: times out at once
		wantErr   bool
		wantCalls int
	}{
		{"at once", 0, true, 1},
		{"after a few bytes", 100, true, 1},
		{"after some progress", 150 << 10, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
				calls++
				if calls > 1 && tt.upTo > 0 {
					return io.NopCloser(bytes.NewReader(whole[off:])), nil
				}
				if tt.upTo == 0 {
					return nil, fmt.Errorf("fetching: %w", timeoutErr{})
				}
				return io.NopCloser(&cutReader{bytes.NewReader(whole[off : off+tt.upTo]), timeoutErr{}}), nil
			}
			s := openStore(t, t.TempDir())
			_, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: fetch})
			if (err != nil) != tt.wantErr || calls != tt.wantCalls {
				t.Errorf("WriteImage = %v after %d fetches; want error %v after %d", err, calls, tt.wantErr, tt.wantCalls)
			}
			if !tt.wantErr {
				return
			}
			fi, err := os.Stat(filepath.Join(s.Dir(), "ingest", layer.Digest.Hex+".partial"))
			if err != nil || fi.Size() != tt.upTo {
				t.Errorf("partial after the timeout = %v, %v; want %d bytes kept", fi, err, tt.upTo)
			}
		})
	}
}

// TestPullReplacesWhatIsNoBlob: a blob path holding a symlink (to a copy of the right bytes,
// even) or a directory with files in it. The writers took the symlink for the blob, stat(2)
// following it, while every reader refuses it ("not a regular file"): the next pull said all
// was well and `images` failed on the image for good. The directory could not be removed
// (not empty), so no pull could store the blob. Both are replaced by the blob.
func TestPullReplacesWhatIsNoBlob(t *testing.T) {
	img := imageOf(t, seededLayers(t, 74, 2, 4096)...)
	reg := newFakeRegistry(t, img)
	configName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string]v1.Hash{"layer": layerDescs(t, img)[0].Digest, "config": configName, "manifest": manifestDigest}
	for _, kind := range []string{"symlink", "directory"} {
		for which, h := range blobs {
			t.Run(kind+"/"+which, func(t *testing.T) {
				s := openStore(t, t.TempDir())
				rec := newLayerRecorder()
				opts := WriteOptions{Fetch: reg.fetch, Layer: rec.layer, NeedLayer: func(v1.Hash) bool { return true }}
				if _, err := s.WriteImage(context.Background(), testRef, img, opts); err != nil {
					t.Fatal(err)
				}
				p := s.BlobPath(h)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				switch kind {
				case "symlink":
					copied := filepath.Join(t.TempDir(), "blob")
					if err := os.WriteFile(copied, b, 0o644); err != nil {
						t.Fatal(err)
					}
					err = os.Symlink(copied, p)
				case "directory":
					err = os.MkdirAll(filepath.Join(p, "sub"), 0o755)
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.WriteImage(context.Background(), testRef, img, opts); err != nil {
					t.Fatalf("WriteImage over a %s at the %s's path = %v", kind, which, err)
				}
				if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("the %s's path after WriteImage: %v, %v; want the blob", which, fi, err)
				}
				if _, err := s.Infos(); err != nil {
					t.Errorf("Infos after WriteImage = %v", err)
				}
			})
		}
	}
}

// TestRefNamedTwice: an index.json that other OCI tools share may name two descriptors with
// one ref (image-layout.md does not forbid it). Untag removed the first only, so the ref came
// back naming the other image after an rmi; Tag replaced the first only, so the ref listed
// twice, the old image still under it.
func TestRefNamedTwice(t *testing.T) {
	imgs := []v1.Image{imageOf(t, seededLayers(t, 75, 1, 512)...), imageOf(t, seededLayers(t, 76, 1, 512)...), imageOf(t, seededLayers(t, 77, 1, 512)...)}
	reg := newFakeRegistry(t, imgs...)
	const ref = "example.com/twice:1"
	setup := func(t *testing.T) (*Store, []v1.Descriptor) {
		s := openStore(t, t.TempDir())
		var descs []v1.Descriptor
		for i, img := range imgs {
			res, err := s.WriteImage(context.Background(), fmt.Sprintf("example.com/img:%d", i), img, WriteOptions{Fetch: reg.fetch})
			if err != nil {
				t.Fatal(err)
			}
			descs = append(descs, res.Manifest)
		}
		// What another tool wrote: ref on the first two images.
		var named []v1.Descriptor
		for _, d := range descs[:2] {
			d.Annotations = map[string]string{RefNameAnnotation: ref}
			named = append(named, d)
		}
		b, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: named})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.Dir(), "index.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return s, descs
	}
	t.Run("untag", func(t *testing.T) {
		s, _ := setup(t)
		if err := s.Untag(ref); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Resolve(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Resolve after Untag = %s, %v; want ErrNotFound", d.Digest, err)
		}
	})
	t.Run("tag", func(t *testing.T) {
		s, descs := setup(t)
		if err := s.Tag(ref, descs[2]); err != nil {
			t.Fatal(err)
		}
		refs, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 1 || refs[0].Descriptor.Digest != descs[2].Digest {
			t.Errorf("List after Tag = %+v, want %s once, naming %s", refs, ref, descs[2].Digest)
		}
	})
	t.Run("tag the first again", func(t *testing.T) {
		s, descs := setup(t)
		d := descs[0]
		d.Annotations = nil
		if err := s.Tag(ref, d); err != nil {
			t.Fatal(err)
		}
		if refs, err := s.List(); err != nil || len(refs) != 1 {
			t.Errorf("List after Tag = %+v, %v; want %s once", refs, err, ref)
		}
	})
}

// TestStoredBlobNamedForAnotherLayer: a manifest names a blob already stored (another image's
// layer, or a config) with the DiffID of a layer already unpacked. Neither download nor
// unpack ran, so nothing checked that the blob is that layer, and the image was stored with
// it: saved or pushed, it carried the wrong blob as its layer. Layer gets the blob from disk
// to check it, unless a stored image pairs the two (a second name for a pulled image, an
// image sharing its base), which pulls then as before, reading nothing.
func TestStoredBlobNamedForAnotherLayer(t *testing.T) {
	blobA, blobB := []byte("layer a's tar"), []byte("layer b's tar")
	a, b := digestOf(blobA), digestOf(blobB)
	diffA, diffB := digestOf([]byte("a unpacked")), digestOf([]byte("b unpacked"))
	fetch := func(ctx context.Context, h v1.Hash, off int64) (io.ReadCloser, error) {
		switch h {
		case a:
			return io.NopCloser(bytes.NewReader(blobA[off:])), nil
		case b:
			return io.NopCloser(bytes.NewReader(blobB[off:])), nil
		}
		return nil, ErrNotFound
	}
	layer := func(d v1.Hash, n int) string {
		return fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, d, n)
	}
	imageWith := func(layers string, diffIDs ...v1.Hash) v1.Image {
		cfg, err := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}})
		if err != nil {
			t.Fatal(err)
		}
		return rawImageOf(t, manifestOf(cfg, layers), cfg)
	}
	s := openStore(t, t.TempDir())
	// The layers unpacked: each the blob of its own name, as a snapshotter checks.
	unpacked := map[v1.Hash]bool{}
	var checked []v1.Hash
	check := func(ctx context.Context, desc v1.Descriptor, diffID v1.Hash, r io.Reader) error {
		got, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		checked = append(checked, desc.Digest)
		if want := map[v1.Hash][]byte{diffA: blobA, diffB: blobB}[diffID]; !bytes.Equal(got, want) {
			return fmt.Errorf("blob %s is not layer %s", desc.Digest, diffID)
		}
		unpacked[diffID] = true
		return nil
	}
	opts := WriteOptions{Fetch: fetch, Layer: check, NeedLayer: func(d v1.Hash) bool { return !unpacked[d] }}
	ctx := context.Background()
	if _, err := s.WriteImage(ctx, "example.com/a:1", imageWith(layer(a, len(blobA)), diffA), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(ctx, "example.com/b:1", imageWith(layer(b, len(blobB)), diffB), opts); err != nil {
		t.Fatal(err)
	}
	checked = nil
	if _, err := s.WriteImage(ctx, "example.com/evil:1", imageWith(layer(a, len(blobA)), diffB), opts); err == nil {
		t.Error("an image naming layer a's blob as layer b was stored")
	}
	if len(checked) != 1 || checked[0] != a {
		t.Errorf("blobs given to Layer = %v, want %s to be checked", checked, a)
	}
	if _, err := s.Resolve("example.com/evil:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve after a refused write = %v, want ErrNotFound", err)
	}
	// A second name, and an image sharing both layers: paired by stored images, not read.
	checked = nil
	if _, err := s.WriteImage(ctx, "example.com/a:2", imageWith(layer(a, len(blobA)), diffA), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteImage(ctx, "example.com/ab:1", imageWith(layer(a, len(blobA))+","+layer(b, len(blobB)), diffA, diffB), opts); err != nil {
		t.Fatal(err)
	}
	if len(checked) != 0 {
		t.Errorf("blobs given to Layer for images pairing stored blobs as stored images do: %v", checked)
	}
}
