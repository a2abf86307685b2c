package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/testutil"
)

// TestPullBlobNamedForUnpackedLayer: a registry's manifest names, as a layer already
// unpacked here (its DiffID in the config), a blob that is not that layer: one strata stores
// already (the image's config), or new bytes. With the layer dir there, neither was checked
// against the DiffID, and the image was stored with the wrong blob as its layer, which save
// then wrote into an archive no one can load. The pull fails naming the mismatch; the store
// stays usable, the honest image pulled, saved and listed as before.
func TestPullBlobNamedForUnpackedLayer(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	small := randomImage(t, 16<<10)
	f := startFront(t, frontAuth{}, func(ctx context.Context, host string) error {
		return push(ctx, host, "test/small:1", small)
	})
	cfgName, err := small.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	rawCfg, err := small.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	garbageDigest := "sha256:" + sha256Hex(garbage)
	// An image of one layer, the blob digest/size, with small's config (its DiffID).
	manifestNaming := func(digest string, size int) []byte {
		b, err := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: cfgName, Size: int64(len(rawCfg))},
			"layers": []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/manifests/config-as-layer"):
			return serveManifest(f, w, r, "application/vnd.oci.image.manifest.v1+json", manifestNaming(cfgName.String(), len(rawCfg)))
		case strings.HasSuffix(p, "/manifests/garbage-as-layer"):
			return serveManifest(f, w, r, "application/vnd.oci.image.manifest.v1+json", manifestNaming(garbageDigest, len(garbage)))
		case blobDigest(r) == garbageDigest:
			w.Write(garbage)
			return true
		}
		return false
	})
	env := testEnv(t.TempDir())
	root := newRoot(t)
	if r := run(t, env, "", root, "pull", "-q", f.Host+"/test/small:1"); r.Code != 0 {
		t.Fatalf("pull: %s", r.Stderr)
	}
	for _, tag := range []string{"config-as-layer", "garbage-as-layer"} {
		t.Run(tag, func(t *testing.T) {
			checkFailed(t, run(t, env, "", root, "pull", "-q", f.Host+"/test/small:"+tag), "diffid mismatch")
			if r := run(t, env, "", root, "images", "-q", f.Host+"/test/small:"+tag); r.Code != 0 || r.Stdout != "" {
				t.Errorf("images after the refused pull: %q %s", r.Stdout, r.Stderr)
			}
		})
	}
	archive := filepath.Join(t.TempDir(), "small.tar")
	for _, args := range [][]string{
		{"pull", "-q", f.Host + "/test/small:1"},
		{"save", "-o", archive, f.Host + "/test/small:1"},
		{"prune", "-f"},
		{"images"},
	} {
		if r := run(t, env, "", root, args...); r.Code != 0 {
			t.Errorf("%s after the refused pulls: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}
	if r := run(t, env, "", newRoot(t), "load", "-q", "-i", archive); r.Code != 0 {
		t.Errorf("load of the image saved: %s", r.Stderr)
	}
	// The same image as an archive: stored where nothing is unpacked (pull --no-unpack,
	// which had nothing to check it against), saved, and loaded here, where its DiffID is unpacked, it is refused as
	// the pull was: a run would use the layer here, not the archive's blob.
	other, evilArchive := newRoot(t), filepath.Join(t.TempDir(), "evil.tar")
	for _, args := range [][]string{
		{"pull", "-q", "--no-unpack", f.Host + "/test/small:garbage-as-layer"},
		{"save", "-o", evilArchive, f.Host + "/test/small:garbage-as-layer"},
	} {
		if r := run(t, env, "", other, args...); r.Code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
		}
	}
	checkFailed(t, run(t, env, "", root, "load", "-q", "-i", evilArchive), "diffid mismatch")
	// pull --no-unpack unpacks nothing, and checks the layers unpacked here all the same.
	checkFailed(t, run(t, env, "", root, "pull", "-q", "--no-unpack", f.Host+"/test/small:garbage-as-layer"), "diffid mismatch")
	if r := run(t, env, "", root, "images", "-q", "-a"); r.Code != 0 || strings.Count(r.Stdout, "\n") != 1 {
		t.Errorf("images after the refused load = %q %s, want the honest image alone", r.Stdout, r.Stderr)
	}
}
