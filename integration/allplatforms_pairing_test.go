package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/testutil"
)

// rawManifest is a manifest or index to push as it is.
type rawManifest struct {
	mt  types.MediaType
	raw []byte
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// TestAllPlatformsBlobNamedForUnpackedLayer: an index whose platform that is not this host's
// names, as a layer already unpacked here (its DiffID in its config), a blob that is not that
// layer: new bytes, or a blob stored already (the layer's own image's config). pull
// --all-platforms checked the host's layers only, so the index was stored with the wrong
// blob as that layer: `run --platform` used the layer dir here, save wrote the blob. Every
// platform is checked now, by pull --all-platforms with or without --no-unpack, as load of
// the same index saved elsewhere is.
func TestAllPlatformsBlobNamedForUnpackedLayer(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	reg := startMemRegistry(t)
	ctx := context.Background()
	small := randomImage(t, 16<<10)
	if err := push(ctx, reg.host, "test/small:1", small); err != nil {
		t.Fatal(err)
	}
	cfgName, err := small.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	rawCfg, err := small.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(reg.host+"/test/evil", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	for _, b := range [][]byte{garbage, rawCfg} {
		if err := remote.WriteLayer(repo, static.NewLayer(b, types.OCILayer), remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
	}
	// putRaw pushes v as a manifest of type mt, under tag or else by its digest.
	putRaw := func(tag string, mt types.MediaType, v any) v1.Descriptor {
		t.Helper()
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := v1.Descriptor{MediaType: mt, Digest: v1.Hash{Algorithm: "sha256", Hex: sha256Hex(raw)}, Size: int64(len(raw))}
		var ref name.Reference = repo.Digest(d.Digest.String())
		if tag != "" {
			ref = repo.Tag(tag)
		}
		if err := remote.Put(ref, rawManifest{mt, raw}, remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// The host's platform: an honest image of its own.
	hostImg := randomImage(t, 8<<10)
	hostDigest, err := hostImg.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(hostDigest.String()), hostImg, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	hostRaw, err := hostImg.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	other := v1.Platform{OS: "linux", Architecture: "s390x"}
	if runtime.GOARCH == "s390x" {
		other.Architecture = "ppc64le"
	}
	// Another platform: small's config (its DiffID), and as its layer the blob digest/size.
	indexNaming := func(tag, digest string, size int) {
		m := putRaw("", types.OCIManifestSchema1, map[string]any{
			"schemaVersion": 2, "mediaType": types.OCIManifestSchema1,
			"config": v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgName, Size: int64(len(rawCfg))},
			"layers": []map[string]any{{"mediaType": types.OCILayer, "digest": digest, "size": size}},
		})
		m.Platform = &other
		putRaw(tag, types.OCIImageIndex, map[string]any{
			"schemaVersion": 2, "mediaType": types.OCIImageIndex,
			"manifests": []v1.Descriptor{
				{MediaType: types.OCIManifestSchema1, Digest: hostDigest, Size: int64(len(hostRaw)), Platform: &host},
				m,
			},
		})
	}
	indexNaming("garbage", "sha256:"+sha256Hex(garbage), len(garbage))
	indexNaming("config", cfgName.String(), len(rawCfg))

	root := newRoot(t)
	mustStrata(t, root, "pull", "-q", reg.host+"/test/small:1")
	evil := reg.host + "/test/evil"
	for _, tag := range []string{"garbage", "config"} {
		for _, flags := range [][]string{{"--all-platforms"}, {"--all-platforms", "--no-unpack"}} {
			t.Run(tag+" "+strings.Join(flags, " "), func(t *testing.T) {
				args := append([]string{"pull", "-q"}, append(flags, evil+":"+tag)...)
				checkFailed(t, strata(t, root, args...), "diffid mismatch")
				if r := mustStrata(t, root, "images", "-q", evil); r.Stdout != "" {
					t.Errorf("images after the refused pull: %q", r.Stdout)
				}
			})
		}
	}
	// The same index stored where nothing is unpacked (nothing to check it against), saved
	// whole and loaded here, is refused as the pull is.
	elsewhere, archive := newRoot(t), filepath.Join(t.TempDir(), "evil.tar")
	mustStrata(t, elsewhere, "pull", "-q", "--no-unpack", "--all-platforms", evil+":garbage")
	mustStrata(t, elsewhere, "save", "--format", "oci-archive", "--all-platforms", "-o", archive, evil+":garbage")
	checkFailed(t, strata(t, root, "load", "-q", "-i", archive), "diffid mismatch")
	if r := mustStrata(t, root, "images", "-q", "-a"); strings.Count(r.Stdout, "\n") != 1 {
		t.Errorf("images after the refused pulls and load = %q, want the honest image alone", r.Stdout)
	}
}
