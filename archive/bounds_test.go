package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/registry"
)

// loadFails loads archive into a fresh store and checks the failure: an error matching want
// (when set) and wantMsg, on one line, with no blob, ref or staging directory left.
func loadFails(t *testing.T, archive io.Reader, opts LoadOptions, want error, wantMsg string) {
	t.Helper()
	root := t.TempDir()
	s, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(context.Background(), s, archive, opts)
	if err == nil {
		t.Fatalf("Load() = %+v, want an error", got)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("Load() = %v, want %v", err, want)
	}
	if msg := err.Error(); !strings.Contains(msg, wantMsg) || strings.Contains(msg, "\n") || len(msg) > 10_000 {
		t.Errorf("Load() = %.300q (%d bytes), want one short line containing %q", msg, len(msg), wantMsg)
	}
	if b := storedBlobs(t, s); len(b) != 0 {
		t.Errorf("store holds %d blobs after a failed load", len(b))
	}
	if refs, _ := s.List(); len(refs) != 0 {
		t.Errorf("store holds refs %v after a failed load", refs)
	}
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.Name() != "oci" {
			t.Errorf("%s left beside the store", e.Name())
		}
	}
}

// blobEntry is a blobs/sha256 entry holding b, and its descriptor.
func blobEntry(mt types.MediaType, b []byte) (tarEntry, v1.Descriptor) {
	d := v1.Descriptor{MediaType: mt, Digest: sha256Hash(b), Size: int64(len(b))}
	return file(blobName(d.Digest), b), d
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadHostileJSON: the JSON files that say what an archive holds, broken or built to
// mislead. Each fails with one line and stores nothing.
func TestLoadHostileJSON(t *testing.T) {
	cfgEnt, cfg := blobEntry(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	manEnt, man := blobEntry(types.OCIManifestSchema1, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{}}))
	// nested is an index chain maxDepth+2 deep over the image: more than any real image nests.
	nested := []tarEntry{cfgEnt, manEnt}
	top := man
	for range maxDepth + 2 {
		e, d := blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{top}}))
		nested = append(nested, e)
		top = d
	}
	top.Annotations = map[string]string{refNameAnnotation: "example.com/deep:1"}
	nested = append(nested, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{top}})))
	// crowded is an index listing the image more times than an index may.
	many := make([]v1.Descriptor, maxManifests+1)
	for i := range many {
		many[i] = man
		many[i].Platform = &v1.Platform{OS: "linux", Architecture: fmt.Sprintf("arch%d", i)}
	}
	crowdedEnt, crowdedIdx := blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: many}))
	crowdedIdx.Annotations = map[string]string{refNameAnnotation: "example.com/crowded:1"}
	crowded := []tarEntry{cfgEnt, manEnt, crowdedEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{crowdedIdx}}))}

	named := func(name string) []byte {
		d := man
		d.Annotations = map[string]string{refNameAnnotation: name}
		return mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}})
	}
	image := func(index []byte) []tarEntry { return []tarEntry{cfgEnt, manEnt, file("index.json", index)} }
	docker := func(manifestJSON string) []tarEntry {
		return []tarEntry{file("c.json", []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`)), file("manifest.json", []byte(manifestJSON))}
	}
	deepJSON := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	// twoFaced is an image manifest that lists manifests too: the store would not read it back
	// as an image, and would fail to list its images.
	twoEnt, two := blobEntry(types.OCIManifestSchema1, []byte(`{"schemaVersion":2,"mediaType":"`+string(types.OCIManifestSchema1)+`","config":`+string(mustJSON(t, cfg))+`,"layers":[],"manifests":[]}`))
	twoNamed := two
	twoNamed.Annotations = map[string]string{refNameAnnotation: "example.com/two:1"}
	twoListed := two
	twoListed.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	twoIdxEnt, twoIdx := blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{twoListed}}))
	twoIdx.Annotations = map[string]string{refNameAnnotation: "example.com/two:2"}
	// indexTyped is an image manifest whose own mediaType says index.
	itEnt, it := blobEntry(types.OCIManifestSchema1, []byte(`{"schemaVersion":2,"mediaType":"`+string(types.OCIImageIndex)+`","config":`+string(mustJSON(t, cfg))+`,"layers":[]}`))
	it.MediaType = types.OCIManifestSchema1
	it.Annotations = map[string]string{refNameAnnotation: "example.com/it:1"}
	// bigCfg is an image whose config is larger than the store reads back.
	bigCfgEnt, bigCfg := blobEntry(types.OCIConfigJSON, append([]byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`), bytes.Repeat([]byte(" "), registry.MaxConfigSize)...))
	bigManEnt, bigMan := blobEntry(types.OCIManifestSchema1, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: bigCfg, Layers: []v1.Descriptor{}}))
	bigMan.Annotations = map[string]string{refNameAnnotation: "example.com/big:1"}
	// untyped is an index listing an index without giving its media type.
	inner := man
	inner.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	innerEnt, innerIdx := blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{inner}}))
	innerIdx.MediaType = ""
	untypedEnt, untyped := blobEntry(types.OCIImageIndex, mustJSON(t, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{innerIdx}}))
	untyped.Annotations = map[string]string{refNameAnnotation: "example.com/untyped:1"}
	twoFaced := func(top v1.Descriptor) []tarEntry {
		return []tarEntry{cfgEnt, twoEnt, twoIdxEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{top}}))}
	}

	tests := []struct {
		name    string
		ents    []tarEntry
		want    error
		wantMsg string
	}{
		{"index.json not json", image([]byte("<html>")), nil, "parsing index.json"},
		{"index.json truncated", image(named("example.com/a:1")[:40]), nil, "parsing index.json"},
		{"index.json manifests not a list", image([]byte(`{"schemaVersion":2,"manifests":"all of them"}`)), nil, "parsing index.json"},
		{"index.json digest a number", image([]byte(`{"schemaVersion":2,"manifests":[{"digest":5,"size":1}]}`)), nil, "parsing index.json"},
		{"index.json digest with a path", image([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:../../../etc/passwd","size":1}]}`)), nil, "parsing index.json"},
		{"index.json deeply nested json", image([]byte(`{"manifests":` + deepJSON + `}`)), nil, "parsing index.json"},
		{"index.json empty", image([]byte(`{}`)), nil, "no images"},
		{"index.json negative size", image([]byte(`{"schemaVersion":2,"manifests":[{"digest":"` + man.Digest.String() + `","size":-1}]}`)), nil, "out of bounds"},
		{"index.json huge size", image([]byte(`{"schemaVersion":2,"manifests":[{"digest":"` + man.Digest.String() + `","size":1099511627776}]}`)), nil, "out of bounds"},
		{"index.json sha512 digest", image([]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha512:` + strings.Repeat("a", 128) + `","size":10}]}`)), cache.ErrInvalidDigest, "sha512"},
		{"ref name not a reference", image(named("UPPER/Case:tag")), nil, "image sha256:"},
		{"ref name with spaces", image(named("example.com/a b:1")), nil, "image sha256:"},
		{"ref name too many colons", image(named("example.com/a:b:c:d")), nil, "image sha256:"},
		{"indexes nested too deep", nested, nil, "nested"},
		{"manifest that lists manifests", twoFaced(twoNamed), nil, "lists manifests"},
		{"index of a manifest that lists manifests", twoFaced(twoIdx), nil, "lists manifests"},
		{"manifest whose media type says index", []tarEntry{cfgEnt, itEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{it}}))}, nil, "media type"},
		{"config larger than the store reads", []tarEntry{bigCfgEnt, bigManEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{bigMan}}))}, nil, "config"},
		{"index entry without a media type", []tarEntry{cfgEnt, manEnt, innerEnt, untypedEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{untyped}}))}, nil, "media type"},
		{"index with too many manifests", crowded, nil, "more than"},
		{"manifest.json not a list", docker(`{"Config":"c.json"}`), nil, "parsing manifest.json"},
		{"manifest.json config a number", docker(`[{"Config":7,"Layers":[]}]`), nil, "parsing manifest.json"},
		{"manifest.json config outside", docker(`[{"Config":"../../etc/passwd","Layers":[]}]`), ErrUnsafeEntry, "leaves the archive"},
		{"manifest.json config absolute", docker(`[{"Config":"/etc/passwd","Layers":[]}]`), ErrUnsafeEntry, "absolute"},
		{"manifest.json layer outside", docker(`[{"Config":"c.json","RepoTags":["a:1"],"Layers":["../../../etc/shadow"]}]`), nil, "layers"},
		{"manifest.json repo tag invalid", docker(`[{"Config":"c.json","RepoTags":["not a ref!"],"Layers":[]}]`), nil, "image sha256:"},
		{"manifest.json repo tag empty", docker(`[{"Config":"c.json","RepoTags":[""],"Layers":[]}]`), nil, "image sha256:"},
		{"manifest.json empty list", docker(`[]`), nil, "no images"},
		{"manifest.json too many names", docker(`[{"Config":"c.json","RepoTags":["a:0"` + tagsUpTo(maxRefs) + `],"Layers":[]}]`), nil, "names more than 1024"},
		{"manifest.json too many images", docker(`[` + strings.Repeat(`{"Config":"c.json","Layers":[]},`, maxManifests) + `{"Config":"c.json","Layers":[]}]`), nil, "more than the 1024"},
		{"index.json too many images", image(mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: many})), nil, "more than the 1024"},
		{"manifest.json huge", docker(`[` + strings.Repeat(" ", maxJSON) + `]`), nil, "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loadFails(t, bytes.NewReader(writeTar(t, tt.ents)), LoadOptions{}, tt.want, tt.wantMsg)
		})
	}
}

// TestLoadBombs: archives small on the wire that would take a disk or the memory if read
// without bounds. Each stops at its bound, with the staging directory removed.
func TestLoadBombs(t *testing.T) {
	t.Run("gzip bomb", func(t *testing.T) {
		// 256 MiB of zeros under a blob name: about 256 KiB gzipped.
		var gz bytes.Buffer
		zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(zw)
		const size = 256 << 20
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + strings.Repeat("a", 64), Size: size, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(tw, zeros{}, size); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(tw.Close(), zw.Close()); err != nil {
			t.Fatal(err)
		}
		loadFails(t, &gz, LoadOptions{MaxSize: 8 << 20}, ErrTooLarge, "more than")
	})
	t.Run("entries without end", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			var err error
			for i := 0; i <= maxEntries && err == nil; i++ {
				err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("e%d", i), Mode: 0o644})
			}
			pw.CloseWithError(errors.Join(err, tw.Close()))
		}()
		loadFails(t, pr, LoadOptions{}, nil, "entries")
		pr.Close()
	})
	t.Run("name of a megabyte", func(t *testing.T) {
		ents := []tarEntry{file(strings.Repeat("n", 1<<20-1024), []byte("x"))}
		loadFails(t, bytes.NewReader(writeTar(t, ents)), LoadOptions{}, ErrUnsafeEntry, "bytes")
	})
	t.Run("link target of a megabyte", func(t *testing.T) {
		ents := []tarEntry{file("a", []byte("x")), {hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "b", Linkname: strings.Repeat("a/", 1<<19-1024)}}}
		loadFails(t, bytes.NewReader(writeTar(t, ents)), LoadOptions{}, ErrUnsafeEntry, "links to")
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestLoadRepairsDamagedStore: loading an archive into a store that holds one of its blobs
// damaged on disk (truncated, or the same size with other bytes) stores the archive's copy
// instead of failing on the damaged one, or keeping it.
func TestLoadRepairsDamagedStore(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	archive := save(t, src, OCIArchive, ref)
	info, err := src.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b[len(b)/2] ^= 0xff
		return os.WriteFile(p, b, 0o644)
	}
	tests := []struct {
		name   string
		blob   v1.Hash
		damage func(string) error
	}{
		{"layer truncated", info.Layers[0].Digest, func(p string) error { return os.Truncate(p, 100) }},
		{"config truncated", info.ID, func(p string) error { return os.Truncate(p, 10) }},
		{"manifest flipped", ref.Descriptor.Digest, flip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			ctx := context.Background()
			if _, err := Load(ctx, s, bytes.NewReader(archive), LoadOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := tt.damage(s.BlobPath(tt.blob)); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(ctx, s, bytes.NewReader(archive), LoadOptions{}); err != nil {
				t.Fatalf("Load over a damaged blob = %v, want it repaired", err)
			}
			for _, name := range storedBlobs(t, s) {
				b, err := os.ReadFile(filepath.Join(s.Dir(), "blobs", "sha256", name))
				if err != nil {
					t.Fatal(err)
				}
				if got := sha256Hash(b).Hex; got != name {
					t.Errorf("blob %s hashes to %s after the load", name, got)
				}
			}
			if !s.Complete(ref.Descriptor) {
				t.Error("Complete() = false after the load")
			}
		})
	}
}

// TestLoadZstdWindowBomb: a zstd frame header of a few bytes can ask for a window of
// hundreds of MiB; the decoder must refuse it rather than allocate it.
func TestLoadZstdWindowBomb(t *testing.T) {
	// Magic, a frame header descriptor with no content size, a window descriptor of 2^28
	// bytes (exponent 18), then one empty raw block that is the last.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 18 << 3, 0x01, 0x00, 0x00}
	loadFails(t, bytes.NewReader(frame), LoadOptions{}, zstd.ErrWindowSizeExceeded, "window")
}

// tagsUpTo is `,"a:1",…,"a:n"`, RepoTags for a manifest.json.
func tagsUpTo(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `,"a:%d"`, i)
	}
	return b.String()
}
