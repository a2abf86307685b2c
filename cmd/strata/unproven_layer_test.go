package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/testutil"
)

// putWithLayer pushes to host/repo:1 an image of cfg (raw) whose one layer is the blob
// layer: a manifest that pairs that blob with cfg's DiffID, whatever it holds.
func putWithLayer(t *testing.T, host, repo string, rawCfg []byte, cfgName v1.Hash, layer []byte, mt types.MediaType) {
	t.Helper()
	ctx := context.Background()
	r, err := name.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{layer, rawCfg} {
		if err := remote.WriteLayer(r, static.NewLayer(b, mt), remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
	}
	ld, _ := static.NewLayer(layer, mt).Digest()
	manifest, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgName, Size: int64(len(rawCfg))},
		Layers: []v1.Descriptor{{MediaType: mt, Digest: ld, Size: int64(len(layer))}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(r.Tag("1"), rawPut{types.OCIManifestSchema1, manifest}, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
}

// TestLayerStoredUncheckedThenUnpackedFromAnother: an image stored while its layer's DiffID
// was not unpacked here (pull --no-unpack) had its blob checked against nothing; once another
// image unpacked that DiffID from its own, correct blob, run of the first image used that
// layer dir (other content than its blob) while save and push wrote its blob. A layer dir is
// now used for a blob, and a blob saved or pushed as a layer unpacked here, only once the
// blob is proven to be it: run, save and push refuse the image, in one line, and push sends
// nothing; a pull or load storing that pairing again is refused, the stored image no longer
// vouching for it; a blob that is the same tar compressed otherwise is hashed once and goes.
func TestLayerStoredUncheckedThenUnpackedFromAnother(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	ctx := context.Background()

	honest, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	honestRef, err := name.NewTag(host + "/test/honest:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(honestRef, honest, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	rawCfg, err := honest.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, err := honest.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	// evil: honest's config (its DiffID D), and as its layer another tar, gzipped (X).
	other, err := random.Layer(1024, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	orc, err := other.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	x, err := io.ReadAll(orc)
	if err != nil {
		t.Fatal(err)
	}
	putWithLayer(t, host, "test/evil", rawCfg, cfgName, x, types.OCILayer)
	putWithLayer(t, host, "test/evil2", rawCfg, cfgName, x, types.OCILayer)
	// same: honest's config, and honest's tar compressed otherwise: the same layer.
	hl, err := honest.Layers()
	if err != nil {
		t.Fatal(err)
	}
	urc, err := hl[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(urc)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.NoCompression)
	zw.Write(raw)
	zw.Close()
	putWithLayer(t, host, "test/same", rawCfg, cfgName, z.Bytes(), types.OCILayer)

	root := t.TempDir() // a fresh root: D is not unpacked when evil and same are stored
	for _, r := range []string{"test/evil:1", "test/same:1"} {
		if _, err := strata(t, root, nil, "pull", "-q", "--no-unpack", host+"/"+r); err != nil {
			t.Fatalf("pull --no-unpack %s: %v", r, err)
		}
	}
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/honest:1"); err != nil {
		t.Fatal(err)
	}

	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s of the image whose layer blob is not the layer unpacked here succeeded", what)
			return
		}
		if msg := err.Error(); !strings.Contains(msg, "is not sha256:") || strings.Contains(msg, "\n") {
			t.Errorf("%s = %q, want one line saying the blob is not the layer", what, msg)
		}
	}
	_, err = strata(t, root, nil, "run", "--rm", host+"/test/evil:1", "/true")
	refused("run", err)
	_, err = strata(t, root, nil, "save", "-o", filepath.Join(t.TempDir(), "evil.tar"), host+"/test/evil:1")
	refused("save", err)
	if _, err := strata(t, root, nil, "tag", host+"/test/evil:1", host+"/test/copy:1"); err != nil {
		t.Fatal(err)
	}
	_, err = strata(t, root, nil, "push", "-q", host+"/test/copy:1")
	refused("push", err)
	if _, err := remote.Head(mustTag(t, host+"/test/copy:1"), remote.WithContext(ctx)); err == nil {
		t.Error("the refused push put the image in the registry")
	}

	// Nor does the stored image that pairs X with D vouch for X when another pull or a load
	// stores it again: it was checked against nothing. Both are refused, nothing stored.
	elsewhere := t.TempDir() // evil saved where nothing is unpacked: nothing to check it against
	if _, err := strata(t, elsewhere, nil, "pull", "-q", "--no-unpack", host+"/test/evil:1"); err != nil {
		t.Fatal(err)
	}
	evilTar := filepath.Join(t.TempDir(), "evil-elsewhere.tar")
	if _, err := strata(t, elsewhere, nil, "save", "-o", evilTar, host+"/test/evil:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/evil:1"); err == nil {
		t.Error("pull of the image again said it is up to date: its blob is not the layer unpacked here")
	}
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/evil2:1"); err == nil {
		t.Error("pull of an image pairing X with D, unpacked here from another blob, succeeded: an image stored unchecked vouched for it")
	}
	if _, err := strata(t, root, nil, "load", "-q", "-i", evilTar); err == nil {
		t.Error("load of an image pairing X with D, unpacked here from another blob, succeeded: an image stored unchecked vouched for it")
	}
	if out, _ := strata(t, root, nil, "images", "--format", "{{.Repository}}"); strings.Contains(out, "evil2") {
		t.Errorf("the refused pull stored its image: %q", out)
	}

	// The same tar compressed otherwise is the layer: hashed once, then it goes.
	if _, err := strata(t, root, nil, "save", "-o", filepath.Join(t.TempDir(), "same.tar"), host+"/test/same:1"); err != nil {
		t.Errorf("save of an image whose blob is the layer unpacked here, compressed otherwise: %v", err)
	}
	if _, err := strata(t, root, nil, "push", "-q", host+"/test/same:1"); err != nil {
		t.Errorf("push of an image whose blob is the layer unpacked here, compressed otherwise: %v", err)
	}
	if _, err := strata(t, root, nil, "save", "-o", filepath.Join(t.TempDir(), "honest.tar"), host+"/test/honest:1"); err != nil {
		t.Errorf("save of the honest image: %v", err)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// TestPullSparesProvenLayer: the common path costs nothing more: a pull of an image whose
// blob is stored and proven to be a layer unpacked here (by the pull that unpacked it) does
// not read the blob again. Seen here by a byte of the stored blob changed in place, which a
// read would find (and repair by downloading it again): it stays as it is.
func TestPullSparesProvenLayer(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	img, err := random.Image(4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"test/a:1", "test/b:1"} {
		if err := remote.Write(mustTag(t, host+"/"+r), img); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/a:1"); err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "oci", "blobs", "sha256", d.Hex)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/b:1"); err != nil {
		t.Fatal(err)
	}
	if after, err := os.ReadFile(p); err != nil || !bytes.Equal(after, b) {
		t.Errorf("the pull of an image whose layer blob is proven read the blob again (%v)", err)
	}
}
