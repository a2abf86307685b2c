package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/internal/testutil"
)

// TestPullOfflineUnprovenLayer: pull --offline says up to date only when a run needs nothing
// more. A layer unpacked here from another blob (the same tar compressed otherwise) spares a
// run the image's own blob only once that blob is proven to be it; with the blob lost from
// the store, the run cannot prove it, and fails. pull --offline said the image was up to
// date all the same (runnableOffline took any layer dir of the DiffID for the image's).
func TestPullOfflineUnprovenLayer(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")

	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustTag(t, host+"/test/a:1"), img); err != nil {
		t.Fatal(err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	urc, err := ls[0].Uncompressed()
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

	root := t.TempDir()
	if _, err := strata(t, root, nil, "pull", "-q", "--no-unpack", host+"/test/a:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/same:1"); err != nil {
		t.Fatal(err)
	}
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "oci", "blobs", "sha256", d.Hex)); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "pull", "--offline", host+"/test/a:1")
	if err == nil || !strings.Contains(err.Error(), "lacks some of its blobs") {
		t.Errorf("pull --offline of an image whose layer blob is lost and not proven to be the layer unpacked here = %q, %v; want an error saying the store lacks blobs", out, err)
	}
	if _, rerr := strata(t, root, nil, "run", "--rm", host+"/test/a:1", "/true"); rerr == nil && err != nil {
		t.Error("the run pull --offline refused succeeded: the image was runnable offline")
	}
}
