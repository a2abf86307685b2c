package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/jsonvalues"
)

// TestLoadAmbiguousManifestRefused: a manifest or index that Go's decoder reads other than as
// written (a key twice, the last winning; a key folded onto a field's name) is refused by
// load as pull refuses it from a registry (registry/strict.go): loaded, it was stored,
// served by strata serve and pushed, a manifest that means one image to strata and another
// to a tool that reads the letter of it, under one digest. What only a map's keys spell in
// other letters is not ambiguous and loads.
func TestLoadAmbiguousManifestRefused(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	good := readTar(t, save(t, src, OCIArchive, ref))
	manName := blobName(ref.Descriptor.Digest)
	var manifest []byte
	for _, e := range good {
		if e.hdr.Name == manName {
			manifest = e.data
		}
	}
	if manifest == nil {
		t.Fatalf("no %s in the archive", manName)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	// withManifest is the archive whose manifest is body (with extra keys after its own),
	// listed by index.json (of body index, if not "") in its place.
	withManifest := func(extra, index string) []byte {
		raw := append(bytes.TrimSuffix(bytes.TrimSpace(bytes.Clone(manifest)), []byte("}")), []byte(extra+"}")...)
		d := v1.Descriptor{MediaType: ref.Descriptor.MediaType, Digest: sha256Hash(raw), Size: int64(len(raw)),
			Annotations: map[string]string{refNameAnnotation: "example.com/ambiguous:1"}}
		idx := string(mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}}))
		if index != "" {
			idx = strings.Replace(idx, `"manifests":`, index, 1)
		}
		var out []tarEntry
		for _, e := range good {
			switch e.hdr.Name {
			case manName:
			case "index.json":
				out = append(out, file(blobName(d.Digest), raw), file("index.json", []byte(idx)))
			default:
				out = append(out, e)
			}
		}
		return writeTar(t, out)
	}
	layers := string(m["layers"])
	tests := []struct {
		name      string
		archive   []byte
		ambiguous bool
	}{
		{"plain", withManifest("", ""), false},
		{"layers twice, in capitals", withManifest(`,"LAYERS":`+layers, ""), true},
		{"layers folded with a long s", withManifest(`,"layer\u017f":`+layers, ""), true},
		{"an annotation twice", withManifest(`,"annotations":{"a":"1","a":"2"}`, ""), true},
		{"annotations differing in case", withManifest(`,"annotations":{"org.x":"1","ORG.X":"2"}`, ""), false},
		{"index.json listing its manifests twice", withManifest("", `"Manifests":[],"manifests":`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := newStore(t)
			_, err := Load(context.Background(), dst, bytes.NewReader(tt.archive), LoadOptions{})
			if !tt.ambiguous {
				if err != nil {
					t.Fatalf("Load = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("Load = %v, want it refused as ambiguous", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Load error of more than one line: %q", err)
			}
			if refs, _ := dst.List(); len(refs) != 0 {
				t.Errorf("refs after a refused load: %v", refs)
			}
		})
	}
}

// TestLoadManyValuesRefused: a manifest, an index or index.json of a few MB can hold a
// million empty values ({} layers or manifests), a hundred bytes and more each once parsed:
// load parsed them whole (a GB for 4 MiB) before any bound on what they list. They are
// counted first, as pull and the store count them (jsonvalues), and refused.
func TestLoadManyValuesRefused(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	good := readTar(t, save(t, src, OCIArchive, ref))
	manName := blobName(ref.Descriptor.Digest)
	empties := strings.TrimSuffix(strings.Repeat("{},", jsonvalues.Max+1), ",")
	// with replaces the manifest by manifest (if not nil) and index.json by index, which
	// %s lists the manifest's descriptor in.
	with := func(manifest []byte, mt types.MediaType, index string) []byte {
		var out []tarEntry
		d := ref.Descriptor
		if manifest != nil {
			d = v1.Descriptor{MediaType: mt, Digest: sha256Hash(manifest), Size: int64(len(manifest))}
		}
		for _, e := range good {
			switch e.hdr.Name {
			case manName:
				if manifest == nil {
					out = append(out, e)
				}
			case "index.json":
				if manifest != nil {
					out = append(out, file(blobName(d.Digest), manifest))
				}
				out = append(out, file("index.json", []byte(fmt.Sprintf(index, mustJSON(t, d)))))
			default:
				out = append(out, e)
			}
		}
		return writeTar(t, out)
	}
	// docker is the docker archive of the image without index.json, each entry through fn.
	dockerTar := readTar(t, save(t, src, DockerArchive, ref))
	info, err := src.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	cfgName := blobName(info.ID)
	docker := func(fn func(tarEntry) []tarEntry) []byte {
		var out []tarEntry
		for _, e := range dockerTar {
			if e.hdr.Name != "index.json" {
				out = append(out, fn(e)...)
			}
		}
		return writeTar(t, out)
	}
	manyLayers := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + sha256Hash(nil).String() + `","size":0},"layers":[` + empties + `]}`)
	manyManifests := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + empties + `]}`)
	tests := []struct {
		name    string
		archive []byte
	}{
		{"manifest of empty layers", with(manyLayers, types.OCIManifestSchema1, `{"schemaVersion":2,"manifests":[%s]}`)},
		{"index of empty manifests", with(manyManifests, types.OCIImageIndex, `{"schemaVersion":2,"manifests":[%s]}`)},
		{"index.json of empty manifests", with(nil, "", `{"schemaVersion":2,"manifests":[%s,`+empties+`]}`)},
		{"manifest.json of empty images", docker(func(e tarEntry) []tarEntry {
			if e.hdr.Name == "manifest.json" {
				return []tarEntry{file("manifest.json", []byte("["+empties+"]"))}
			}
			return []tarEntry{e}
		})},
		{"docker config of empty history entries", docker(func(e tarEntry) []tarEntry {
			switch e.hdr.Name {
			case cfgName: // under a name that claims no digest
				return []tarEntry{file("config.json", []byte(`{"rootfs":{"type":"layers","diff_ids":[]},"history":[`+empties+`]}`))}
			case "manifest.json":
				return []tarEntry{file("manifest.json", bytes.ReplaceAll(e.data, []byte(cfgName), []byte("config.json")))}
			}
			return []tarEntry{e}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Load(context.Background(), newStore(t), bytes.NewReader(tt.archive), LoadOptions{})
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "JSON values") {
				t.Errorf("Load = %v, want it refused for its JSON values", err)
			}
			// The archive is some 400 KB; parsed, its values were 40 MB and more.
			if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
				t.Errorf("Load allocated %d MB", n>>20)
			}
		})
	}
}

// TestLoadBlobListedWithTwoSizes: an archive listing one blob with two sizes (twice in a
// manifest, or in two images) was loaded, the size of the first listing checked and the
// other stored in its manifest as it was: an image that never reads whole (every reader of
// it fails the size), where pull refuses one blob listed with two sizes.
func TestLoadBlobListedWithTwoSizes(t *testing.T) {
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	good := readTar(t, save(t, src, OCIArchive, ref))
	manName := blobName(ref.Descriptor.Digest)
	var m v1.Manifest
	for _, e := range good {
		if e.hdr.Name == manName {
			if err := json.Unmarshal(e.data, &m); err != nil {
				t.Fatal(err)
			}
		}
	}
	info, err := src.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	// A config naming the layer's DiffID twice, and a manifest listing the layer twice, the
	// second time with a size one byte more.
	cf := *info.Config.DeepCopy()
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, cf.RootFS.DiffIDs[0])
	cfg := mustJSON(t, cf)
	lie := m.Layers[0]
	lie.Size++
	m.Config = v1.Descriptor{MediaType: m.Config.MediaType, Digest: sha256Hash(cfg), Size: int64(len(cfg))}
	m.Layers = append(m.Layers, lie)
	raw := mustJSON(t, m)
	d := v1.Descriptor{MediaType: ref.Descriptor.MediaType, Digest: sha256Hash(raw), Size: int64(len(raw)),
		Annotations: map[string]string{refNameAnnotation: "example.com/twice:1"}}
	var out []tarEntry
	for _, e := range good {
		switch e.hdr.Name {
		case manName:
		case "index.json":
			out = append(out, file(blobName(d.Digest), raw), file(blobName(m.Config.Digest), cfg),
				file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}})))
		default:
			out = append(out, e)
		}
	}
	dst := newStore(t)
	_, err = Load(context.Background(), dst, bytes.NewReader(writeTar(t, out)), LoadOptions{})
	if !errors.Is(err, cache.ErrSizeMismatch) {
		t.Fatalf("Load = %v, want ErrSizeMismatch", err)
	}
	if refs, _ := dst.List(); len(refs) != 0 {
		t.Errorf("refs after a refused load: %v", refs)
	}
}
