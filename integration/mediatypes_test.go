package integration

import (
	"bytes"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// TestLayerMediaTypes pulls and runs one image whose layers use each compression strata reads:
// gzip under the OCI and the Docker media types, zstd, and a plain tar.
func TestLayerMediaTypes(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)

	oci := gzipLayer(t, []tarEntry{{Name: "m/oci-gzip", Body: "oci-gzip\n"}})
	docker := gzipLayer(t, []tarEntry{{Name: "m/docker-gzip", Body: "docker-gzip\n"}})
	docker.mt = types.DockerLayer
	raw := tarBytes(t, []tarEntry{{Name: "m/zstd", Body: "zstd\n"}})
	zl := &rawLayer{blob: zstdBytes(t, raw), mt: types.OCILayerZStd, diffID: sha256Hash(raw)}
	raw = tarBytes(t, []tarEntry{{Name: "m/tar", Body: "tar\n"}})
	plain := &rawLayer{blob: raw, mt: types.OCIUncompressedLayer, diffID: sha256Hash(raw)}

	ref, _ := pushImage(t, reg, "media/types:v1", alpineBase(t), oci, docker, zl, plain)
	root := newRoot(t)
	mustStrata(t, root, "pull", "-q", ref)
	out := mustStrata(t, root, "run", "--rm", ref, "cat", "/m/oci-gzip", "/m/docker-gzip", "/m/zstd", "/m/tar")
	if want := "oci-gzip\ndocker-gzip\nzstd\ntar\n"; out.Stdout != want {
		t.Errorf("cat of one file per layer = %q, want %q", out.Stdout, want)
	}
}

func zstdBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
