package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// bigBlob is the size the performance bar names: a 100 MB blob on loopback.
const bigBlob = 100 << 20

// bigImage stores an image whose one layer is a 100 MB random blob, under
// docker.io/library/bench:1, and returns the store, the image and the layer digest.
func bigImage(b *testing.B) (*cache.Store, v1.Image, v1.Hash) {
	b.Helper()
	ctx := context.Background()
	store, err := cache.Open(filepath.Join(b.TempDir(), "oci"))
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, bigBlob)
	rand.NewChaCha8([32]byte{1}).Read(data)
	layer := v1.Descriptor{MediaType: types.OCILayer, Size: bigBlob, Digest: sha(data)}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + layer.Digest.String() + `"]}}`)
	cfgDesc := v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cfg)), Digest: sha(cfg)}
	man, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfgDesc, Layers: []v1.Descriptor{layer}})
	manDesc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(man)), Digest: sha(man)}
	for _, blob := range []struct {
		d v1.Descriptor
		b []byte
	}{{layer, data}, {cfgDesc, cfg}, {manDesc, man}} {
		if err := store.WriteBlob(ctx, blob.d, bytes.NewReader(blob.b)); err != nil {
			b.Fatal(err)
		}
	}
	if err := store.Tag("docker.io/library/bench:1", manDesc); err != nil {
		b.Fatal(err)
	}
	img, err := store.Image(manDesc.Digest)
	if err != nil {
		b.Fatal(err)
	}
	return store, img, layer.Digest
}

func sha(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// getBlob downloads url whole and checks its length.
func getBlob(b *testing.B, url string) {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != bigBlob || resp.StatusCode != 200 {
		b.Fatalf("GET %s = %d, %d bytes, %v", url, resp.StatusCode, n, err)
	}
}

// BenchmarkServeBlob serves the 100 MB blob over loopback.
func BenchmarkServeBlob(b *testing.B) {
	store, _, layer := bigImage(b)
	srv := httptest.NewServer(New(store, Options{}))
	defer srv.Close()
	url := srv.URL + "/v2/library/bench/blobs/" + layer.String()
	b.SetBytes(bigBlob)
	for b.Loop() {
		getBlob(b, url)
	}
}

// BenchmarkDockerRegistryBlob serves the same blob from the CNCF registry (Debian's
// docker-registry) on loopback: the bar BenchmarkServeBlob is held to.
func BenchmarkDockerRegistryBlob(b *testing.B) {
	if _, err := exec.LookPath("docker-registry"); err != nil {
		b.Skip("skipping: docker-registry is not installed (scripts/test-deps.sh installs it)")
	}
	_, img, layer := bigImage(b)
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			b.Fatalf("docker-registry did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ref, err := name.ParseReference(addr+"/library/bench:1", name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		b.Fatal(err)
	}
	url := "http://" + addr + "/v2/library/bench/blobs/" + layer.String()
	b.SetBytes(bigBlob)
	for b.Loop() {
		getBlob(b, url)
	}
}
