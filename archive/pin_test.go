package archive

import (
	"bytes"
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// TestLoadDigestNames: a name by digest ("app@sha256:…") is a promise that the content
// hashes to that digest, and run and pull --offline take the store's word for it. An archive
// may only name an image by the digest it lists it by; a name pinning any other digest (the
// digest of a well-known image, to have `run app@sha256:…` run the archive's instead) is not
// tagged: dropped from an annotation, and refused in manifest.json's RepoTags, as docker
// refuses a name by digest there.
func TestLoadDigestNames(t *testing.T) {
	cfgEnt, cfg := blobEntry(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	manEnt, man := blobEntry(types.OCIManifestSchema1, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{}}))
	other := sha256Hash([]byte("the image a user pinned"))
	archive := func(names ...string) []byte {
		d := man
		if len(names) > 0 {
			d.Annotations = map[string]string{refNameAnnotation: names[0]}
		}
		ents := []tarEntry{cfgEnt, manEnt, file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}}))}
		if len(names) > 1 {
			ents = append(ents, file("manifest.json", mustJSON(t, []dockerManifest{{Config: blobName(cfg.Digest), RepoTags: names[1:]}})))
		}
		return writeTar(t, ents)
	}
	pinOther := "example.com/app@" + other.String()
	pinOwn := "example.com/app@" + man.Digest.String()

	t.Run("only a foreign pin", func(t *testing.T) {
		// The pin is dropped: the image is stored unnamed, as docker load stores one.
		s := newStore(t)
		got, err := Load(context.Background(), s, bytes.NewReader(archive(pinOther)), LoadOptions{})
		if err != nil || len(got) != 1 || got[0].Ref != "" || got[0].Manifest.Digest != man.Digest {
			t.Fatalf("Load() = %+v, %v; want the image stored unnamed", got, err)
		}
		if refs, err := s.List(); err != nil || len(refs) != 0 {
			t.Errorf("store refs after the load = %v, %v; want none", refs, err)
		}
	})
	t.Run("foreign pin as --name", func(t *testing.T) {
		loadFails(t, bytes.NewReader(archive()), LoadOptions{Name: pinOther}, nil, "pins another digest")
	})
	t.Run("foreign pin among tags", func(t *testing.T) {
		// RepoTags hold tags: docker refuses a name by digest there ("invalid tag"). It was
		// dropped without a word, the load saying it loaded what it did not name.
		loadFails(t, bytes.NewReader(archive("", pinOther, "example.com/app:2")), LoadOptions{}, nil, `invalid tag "`+pinOther+`"`)
	})
	t.Run("foreign pin in a docker archive", func(t *testing.T) {
		dockerArchive := writeTar(t, []tarEntry{cfgEnt,
			file("manifest.json", mustJSON(t, []dockerManifest{{Config: blobName(cfg.Digest), RepoTags: []string{"example.com/app:1", pinOther}}}))})
		loadFails(t, bytes.NewReader(dockerArchive), LoadOptions{}, nil, `invalid tag "`+pinOther+`"`)
	})
	for _, tt := range []struct {
		name    string
		archive []byte
		opts    LoadOptions
		want    []string
	}{
		{"foreign pin, given a name", archive(pinOther), LoadOptions{Name: "example.com/app:1"}, []string{"example.com/app:1"}},
		{"its own digest", archive(pinOwn), LoadOptions{}, []string{pinOwn}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if _, err := Load(context.Background(), s, bytes.NewReader(tt.archive), tt.opts); err != nil {
				t.Fatal(err)
			}
			refs, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range refs {
				got = append(got, r.Name)
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] {
				t.Errorf("refs after Load = %v, want %v", got, tt.want)
			}
			if _, err := s.Resolve(pinOther); !errors.Is(err, cache.ErrNotFound) {
				t.Errorf("Resolve(%s) = %v, want ErrNotFound: the archive does not hold that digest", pinOther, err)
			}
		})
	}
}

// TestLoadEmptyBlobWrongName: an empty entry named blobs/sha256/<hex> of something else is
// refused while staging, as any blob whose content does not hash to its name, even after
// another empty entry was staged; found only when stored, it left the blobs stored before it.
func TestLoadEmptyBlobWrongName(t *testing.T) {
	layerEnt, layer := blobEntry(types.OCILayer, []byte("some layer bytes"))
	fake := v1.Descriptor{MediaType: types.OCILayer, Digest: sha256Hash([]byte("not empty")), Size: 0}
	cfgEnt, cfg := blobEntry(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	manEnt, man := blobEntry(types.OCIManifestSchema1, mustJSON(t, v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{layer, fake}}))
	man.Annotations = map[string]string{refNameAnnotation: "example.com/app:1"}
	archive := writeTar(t, []tarEntry{
		file("empty", nil), layerEnt, file(blobName(fake.Digest), nil), cfgEnt, manEnt,
		file("index.json", mustJSON(t, v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{man}})),
	})
	loadFails(t, bytes.NewReader(archive), LoadOptions{}, cache.ErrDigestMismatch, blobName(fake.Digest))
}
