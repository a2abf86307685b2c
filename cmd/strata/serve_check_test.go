package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testutil"
)

// TestServePullThroughChecksLayersUnpackedLater: serve --pull-through checks a layer
// unpacked here to be the blob an upstream names for it, but it looked for the layer store
// once, when it started: started in a root where nothing was unpacked yet, it checked
// nothing for as long as it ran, while pulls and runs in the same root unpacked layers that
// images it stored then named other blobs for. It looks whenever it stores a layer.
func TestServePullThroughChecksLayersUnpackedLater(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(up.Close)
	host := strings.TrimPrefix(up.URL, "http://")
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
	// The hostile image: honest's config (its DiffID), and as its layer other bytes.
	repo, err := name.NewRepository(host + "/test/evil")
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 2048)
	rand.Read(garbage)
	rawCfg, err := honest.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, err := honest.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{garbage, rawCfg} {
		if err := remote.WriteLayer(repo, static.NewLayer(b, types.OCILayer), remote.WithContext(ctx)); err != nil {
			t.Fatal(err)
		}
	}
	gl := static.NewLayer(garbage, types.OCILayer)
	gd, _ := gl.Digest()
	manifest, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgName, Size: int64(len(rawCfg))},
		Layers: []v1.Descriptor{{MediaType: types.OCILayer, Digest: gd, Size: int64(len(garbage))}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(repo.Tag("1"), rawPut{types.OCIManifestSchema1, manifest}, remote.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir() // nothing unpacked: no layer store yet
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := newRootCmd(&globals{})
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--root", root, "serve", "--addr", "127.0.0.1:0", "--pull-through", up.URL})
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(sctx)
		pw.Close()
	}()
	line := make([]byte, 256)
	n, _ := pr.Read(line)
	go io.Copy(io.Discard, pr)
	_, addr, ok := strings.Cut(strings.TrimSpace(string(line[:n])), " at http://")
	if !ok {
		t.Fatalf("serve printed %q, want its address", line[:n])
	}
	// The honest layer unpacked in the same root, serve running.
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/honest:1"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/v2/test/evil/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("serve pulled through and served an image naming other bytes as a layer unpacked here")
	}
	store, err := cache.Open(root + "/oci")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Resolve(host + "/test/evil:1"); err == nil {
		t.Error("the image naming other bytes as a layer unpacked here is stored")
	}
	cancel()
	<-done
}

// TestServePullThroughUnprovenPairing: serve --pull-through spared a stored blob its check
// against a layer unpacked here when a stored image paired the two, but that image may have
// been stored (pull --no-unpack) while the DiffID was not unpacked, checked against nothing.
// Only the layer store's proof spares it now: an image storing that pairing again is refused.
func TestServePullThroughUnprovenPairing(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(up.Close)
	host := strings.TrimPrefix(up.URL, "http://")
	ctx := context.Background()
	honest, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustTag(t, host+"/test/honest:1"), honest, remote.WithContext(ctx)); err != nil {
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
	garbage := make([]byte, 2048)
	rand.Read(garbage)
	putWithLayer(t, host, "test/evil", rawCfg, cfgName, garbage, types.OCILayer)
	putWithLayer(t, host, "test/evil2", rawCfg, cfgName, garbage, types.OCILayer)

	root := t.TempDir()
	if _, err := strata(t, root, nil, "pull", "-q", "--no-unpack", host+"/test/evil:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "pull", "-q", host+"/test/honest:1"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := newRootCmd(&globals{})
	pr, pw := io.Pipe()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--root", root, "serve", "--addr", "127.0.0.1:0", "--pull-through", up.URL})
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(sctx)
		pw.Close()
	}()
	line := make([]byte, 256)
	n, _ := pr.Read(line)
	go io.Copy(io.Discard, pr)
	_, addr, ok := strings.Cut(strings.TrimSpace(string(line[:n])), " at http://")
	if !ok {
		t.Fatalf("serve printed %q, want its address", line[:n])
	}
	resp, err := http.Get("http://" + addr + "/v2/test/evil2/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("serve pulled through an image pairing other bytes with a layer unpacked here, spared by an image stored unchecked")
	}
	store, err := cache.Open(root + "/oci")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Resolve(host + "/test/evil2:1"); err == nil {
		t.Error("the image pairing other bytes with a layer unpacked here is stored")
	}
	cancel()
	<-done
}
