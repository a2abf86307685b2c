package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/jsonvalues"
)

// TestLoadChecksUnpackedLayers: an archive whose config names, as one of its layers, the
// DiffID of a layer unpacked here already, with a blob that is not that layer. Runs use the
// layer dir here, not the archive's blob, so the image ran on a layer it did not bring (one
// whose DiffID it had only to know), and was saved again with its own blob. The load checks
// such a layer's blob before storing anything, and is refused; a stored image pairing the
// blob with the DiffID (the same base loaded again, an image on it) spares the check.
func TestLoadChecksUnpackedLayers(t *testing.T) {
	ctx := context.Background()
	base := alpine(t)
	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	baseDiffID, err := baseLayers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	baseBlob, err := baseLayers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	// The hostile image: a random blob listed as alpine's layer.
	l, err := random.Layer(1024, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	evil, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := evil.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs[1] = baseDiffID
	if evil, err = mutate.ConfigFile(evil, cfg); err != nil {
		t.Fatal(err)
	}
	src := newStore(t)
	evilArchive := save(t, src, DockerArchive, put(t, src, "example.com/evil:1", evil))
	honestArchive := save(t, src, DockerArchive, put(t, src, "example.com/honest:1", onAlpine(t, 1024)))

	s := newStore(t)
	put(t, s, "docker.io/library/alpine:3.20.3", base)
	var checked []v1.Hash
	opts := LoadOptions{
		Unpacked: func(d v1.Hash) bool { return d == baseDiffID },
		CheckLayer: func(ctx context.Context, layer v1.Descriptor, diffID v1.Hash, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			checked = append(checked, layer.Digest)
			sum := sha256.Sum256(b)
			if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}); got != baseBlob {
				return errors.New("not the layer unpacked")
			}
			return nil
		},
	}
	before := storedBlobs(t, s)
	if _, err := Load(ctx, s, bytes.NewReader(evilArchive), opts); err == nil {
		t.Fatal("an archive naming another blob as a layer unpacked here was loaded")
	}
	if len(checked) != 1 {
		t.Errorf("layers checked = %v, want the one named with the unpacked DiffID", checked)
	}
	if _, err := s.Resolve("example.com/evil:1"); err == nil {
		t.Error("the refused image is tagged")
	}
	if after := storedBlobs(t, s); !slices.Equal(before, after) {
		t.Errorf("blobs after a refused load = %v, want %v as before", after, before)
	}
	checked = nil
	if _, err := Load(ctx, s, bytes.NewReader(honestArchive), opts); err != nil {
		t.Fatalf("loading an image on the stored base: %v", err)
	}
	if len(checked) != 0 {
		t.Errorf("layers checked for an image whose base a stored image pairs = %v, want none", checked)
	}
}

// TestLoadChecksUnpackedLayersOfLargeConfig: the check of the layers unpacked here read an
// image's config within 4 MiB, a manifest's bound, where a config may have 16: the config of
// the hostile image of TestLoadChecksUnpackedLayers, grown past 4 MiB by a long history
// comment, was cut short, failed to parse, and its layers went unchecked. And a config of
// another platform, which nothing else reads before it is stored, was parsed whole however
// many values it held.
func TestLoadChecksUnpackedLayersOfLargeConfig(t *testing.T) {
	ctx := context.Background()
	base := alpine(t)
	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	baseDiffID, err := baseLayers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	l, err := random.Layer(1024, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	evil, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := evil.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs[1] = baseDiffID
	cfg.History = append(cfg.History, v1.History{Comment: strings.Repeat("x", 5<<20)})
	if evil, err = mutate.ConfigFile(evil, cfg); err != nil {
		t.Fatal(err)
	}
	src := newStore(t)
	ref := put(t, src, "example.com/evil:1", evil)
	for _, format := range []Format{DockerArchive, OCIArchive} {
		t.Run(string(format), func(t *testing.T) {
			s := newStore(t)
			var checked int
			opts := LoadOptions{
				Unpacked: func(d v1.Hash) bool { return d == baseDiffID },
				CheckLayer: func(ctx context.Context, layer v1.Descriptor, diffID v1.Hash, r io.Reader) error {
					checked++
					return errors.New("not the layer unpacked")
				},
			}
			if _, err := Load(ctx, s, bytes.NewReader(save(t, src, format, ref)), opts); err == nil {
				t.Error("an archive naming another blob as a layer unpacked here was loaded")
			}
			if checked == 0 {
				t.Error("no layer was checked")
			}
		})
	}
}

// TestLoadOtherPlatformConfigBounded: the config of a platform of an index that is not the
// one loaded to run is read by the check of the layers unpacked here alone; it was parsed
// whole, however many values it held (a GB for 4 MiB of empty history entries). It is
// counted first and refused, as pull refuses it.
func TestLoadOtherPlatformConfigBounded(t *testing.T) {
	base := alpine(t)
	empties := strings.TrimSuffix(strings.Repeat("{},", jsonvalues.Max+1), ",")
	rawCfg := []byte(`{"architecture":"s390x","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"history":[` + empties + `]}`)
	other, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	other = rawConfigImage{Image: other, raw: rawCfg}
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: base, Descriptor: v1.Descriptor{Platform: &host}},
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &s390x}})
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := layout.Write(dir, empty.Index); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameAnnotation: "example.com/two:1"})); err != nil {
		t.Fatal(err)
	}
	opts := LoadOptions{
		Unpacked:   func(v1.Hash) bool { return true },
		CheckLayer: func(context.Context, v1.Descriptor, v1.Hash, io.Reader) error { return nil },
	}
	_, err = LoadDir(context.Background(), newStore(t), dir, opts)
	if err == nil || !strings.Contains(err.Error(), "JSON values") {
		t.Errorf("LoadDir = %v, want the config of many values refused", err)
	}
}

// rawConfigImage is an image whose config is raw, as it is.
type rawConfigImage struct {
	v1.Image
	raw []byte
}

func (i rawConfigImage) RawConfigFile() ([]byte, error) { return i.raw, nil }
func (i rawConfigImage) ConfigName() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(i.raw))
	return h, err
}
func (i rawConfigImage) Manifest() (*v1.Manifest, error) {
	m, err := i.Image.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	h, _ := i.ConfigName()
	m.Config.Digest, m.Config.Size = h, int64(len(i.raw))
	return m, nil
}
func (i rawConfigImage) RawManifest() ([]byte, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}
func (i rawConfigImage) Digest() (v1.Hash, error) {
	raw, err := i.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	return h, err
}
func (i rawConfigImage) Size() (int64, error) {
	raw, err := i.RawManifest()
	return int64(len(raw)), err
}

// TestLoadChecksUnpackedLayersOfAnyKind: an index entry of a media type strata does not know
// is never run, but its manifest is stored, and the store reads the pairing of blob and
// DiffID of the first image of an index without this host's platform from it, to spare
// later pulls their check: the load skipped the entry's layers, so an entry naming another
// blob as a layer unpacked here was stored unchecked, and taken for a pairing a stored image
// vouches for. Every image manifest the load stores is checked, whatever it is listed as.
func TestLoadChecksUnpackedLayersOfAnyKind(t *testing.T) {
	base := alpine(t)
	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	baseDiffID, err := baseLayers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	l, err := random.Layer(1024, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	evil, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := evil.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "s390x"
	cfg.RootFS.DiffIDs[0] = baseDiffID
	if evil, err = mutate.ConfigFile(evil, cfg); err != nil {
		t.Fatal(err)
	}
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: evil})); err != nil {
		t.Fatal(err)
	}
	// Its manifest without a media type of its own, listed by an index as a kind strata
	// does not know, named in index.json.
	var m map[string]any
	raw, err := evil.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "mediaType")
	raw = mustJSON(t, m)
	entry := v1.Descriptor{MediaType: "application/vnd.example.thing.v1+json", Digest: sha256Hash(raw), Size: int64(len(raw)), Platform: &s390x}
	rawIdx := mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []v1.Descriptor{entry}})
	d := v1.Descriptor{MediaType: "application/vnd.oci.image.index.v1+json", Digest: sha256Hash(rawIdx), Size: int64(len(rawIdx)),
		Annotations: map[string]string{refNameAnnotation: "example.com/thing:1"}}
	for name, b := range map[string][]byte{
		blobName(entry.Digest): raw,
		blobName(d.Digest):     rawIdx,
		"index.json":           mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var checked int
	opts := LoadOptions{
		Unpacked: func(d v1.Hash) bool { return d == baseDiffID },
		CheckLayer: func(context.Context, v1.Descriptor, v1.Hash, io.Reader) error {
			checked++
			return errors.New("not the layer unpacked")
		},
	}
	_, err = LoadDir(context.Background(), newStore(t), dir, opts)
	if err == nil {
		t.Error("an index entry naming another blob as a layer unpacked here was loaded")
	}
	if checked != 1 {
		t.Errorf("layers checked = %d, want 1", checked)
	}
}

// TestLoadDirCheckReadsTheBlob: the check of a layer unpacked here read the layout's file
// for the blob without checking that what it read is that blob: a directory read in place
// (another user's, a network share) that gave the layer unpacked here to the check and then
// other bytes, those of the blob the manifest names, to the store, had the blob stored as
// that layer, unchecked. The check now fails unless what it reads hashes to the blob.
func TestLoadDirCheckReadsTheBlob(t *testing.T) {
	base := alpine(t)
	baseLayers, err := base.Layers()
	if err != nil {
		t.Fatal(err)
	}
	baseDiffID, err := baseLayers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := baseLayers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	honest, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The blob the manifest names: other bytes of the same size, under alpine's DiffID.
	garbage := bytes.Repeat([]byte{0x5a}, len(honest))
	evil, err := mutate.AppendLayers(empty.Image, static.NewLayer(garbage, "application/vnd.oci.image.layer.v1.tar+gzip"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := evil.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.RootFS.DiffIDs[0] = baseDiffID
	if evil, err = mutate.ConfigFile(evil, cfg); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := layout.Write(dir, empty.Index); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(evil, layout.WithAnnotations(map[string]string{refNameAnnotation: "example.com/swapped:1"})); err != nil {
		t.Fatal(err)
	}
	blobFile := filepath.Join(dir, blobName(sha256Hash(garbage)))
	// The layout gives the honest layer to the check, and its own blob after it.
	if err := os.WriteFile(blobFile, honest, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := LoadOptions{
		Unpacked: func(d v1.Hash) bool { return d == baseDiffID },
		CheckLayer: func(ctx context.Context, layer v1.Descriptor, diffID v1.Hash, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			if !bytes.Equal(b, honest) {
				return errors.New("not the layer unpacked")
			}
			return os.WriteFile(blobFile, garbage, 0o644)
		},
	}
	s := newStore(t)
	if _, err := LoadDir(context.Background(), s, dir, opts); !errors.Is(err, cache.ErrDigestMismatch) {
		t.Errorf("LoadDir = %v, want a digest mismatch", err)
	}
	if _, err := s.Resolve("example.com/swapped:1"); err == nil {
		t.Error("the image whose check read other bytes than its blob is tagged")
	}
}

// TestDockerLayerDiffIDReadsTheBlob: the DiffID of a compressed layer of a docker archive
// (or directory) was computed from a read of its file that nothing tied to the blob stored
// after it: a directory read in place that changed between the two reads had its blob
// stored under a DiffID computed from other bytes. The read that decompresses it now
// hashes it too, and fails unless it is the blob.
func TestDockerLayerDiffIDReadsTheBlob(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("a tar, as far as this test goes"))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "layer.tar.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	p := &plan{store: newStore(t), src: &dirSource{dir: dir, root: root}}
	e, err := p.src.lookup("layer.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	// The digest the first read found; the file has changed since.
	other := sha256Hash([]byte("the bytes hashed before"))
	if _, err := p.uncompressedDigest(context.Background(), e, other); !errors.Is(err, cache.ErrDigestMismatch) {
		t.Errorf("uncompressedDigest of a file that is not blob %s = %v, want a digest mismatch", other, err)
	}
	if _, err := p.uncompressedDigest(context.Background(), e, sha256Hash(gz.Bytes())); err != nil {
		t.Errorf("uncompressedDigest of the blob = %v", err)
	}
}
