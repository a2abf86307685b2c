package cache

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// addIndexEntry appends d to the store's index.json as another tool would write it.
func addIndexEntry(t *testing.T, s *Store, d v1.Descriptor) {
	t.Helper()
	p := filepath.Join(s.Dir(), "index.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Manifests = append(idx.Manifests, d)
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPruneSkipsSHA512Entry: a sha512 entry in index.json (an OCI layout another tool wrote,
// copied in) made every Prune fail ("opening blob: invalid digest"), so image prune, and
// the collection of rmi, failed outright. It is skipped with one warning and the rest is
// collected; when its manifest is there, in blobs/sha512, the sha256 blobs it names are kept.
func TestPruneSkipsSHA512Entry(t *testing.T) {
	ls := seededLayers(t, 51, 3, 8<<10)
	named, foreign, garbage := imageOf(t, ls[0]), imageOf(t, ls[1]), imageOf(t, ls[2])
	reg := newFakeRegistry(t, named, foreign, garbage)
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	for ref, img := range map[string]v1.Image{"example.com/named:1": named, "example.com/foreign:1": foreign, "example.com/garbage:1": garbage} {
		if _, err := s.WriteImage(ctx, ref, img, WriteOptions{Fetch: reg.fetch}); err != nil {
			t.Fatal(err)
		}
	}
	// foreign's manifest, stored by another tool under its sha512 digest and named by it only.
	rawManifest, err := foreign.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(rawManifest)
	foreign512 := v1.Hash{Algorithm: "sha512", Hex: hex.EncodeToString(sum[:])}
	if err := os.MkdirAll(filepath.Join(s.Dir(), "blobs", "sha512"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "blobs", "sha512", foreign512.Hex), rawManifest, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"example.com/foreign:1", "example.com/garbage:1"} {
		if err := s.Untag(ref); err != nil {
			t.Fatal(err)
		}
	}
	addIndexEntry(t, s, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(rawManifest)), Digest: foreign512,
		Annotations: map[string]string{RefNameAnnotation: "example.com/foreign:512"}})
	// And one whose manifest is nowhere.
	absent := v1.Hash{Algorithm: "sha512", Hex: strings.Repeat("ab", 64)}
	addIndexEntry(t, s, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 500, Digest: absent,
		Annotations: map[string]string{RefNameAnnotation: "example.com/absent:1"}})

	var warned []string
	removed, _, err := s.PruneKeeping(ctx, false, nil, func(w string) { warned = append(warned, w) })
	if err != nil {
		t.Fatalf("Prune with sha512 entries = %v, want them skipped", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "example.com/absent:1") || strings.Contains(warned[0], "\n") {
		t.Errorf("warnings = %q, want one line naming example.com/absent:1", warned)
	}
	gone := map[v1.Hash]bool{}
	for _, d := range removed {
		gone[d.Digest] = true
	}
	garbageManifest, _ := garbage.Digest()
	if !gone[garbageManifest] || !gone[layerDescs(t, garbage)[0].Digest] {
		t.Errorf("Prune removed %v, want the untagged image's blobs", removed)
	}
	for _, img := range []v1.Image{named, foreign} {
		cfg, _ := img.ConfigName()
		for _, h := range []v1.Hash{cfg, layerDescs(t, img)[0].Digest} {
			if gone[h] || !s.HasBlob(h) {
				t.Errorf("blob %s removed, want it kept (named, or named by the sha512 manifest)", short(h))
			}
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "blobs", "sha512", foreign512.Hex)); err != nil {
		t.Errorf("the sha512 manifest: %v, want it left alone", err)
	}
}
