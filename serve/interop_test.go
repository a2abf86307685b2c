package serve

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/testutil"
)

// TestSkopeoCopyFromServe copies images out of `strata serve` with skopeo, as a machine pulling
// from the cache would: the manifest digests must be the store's.
func TestSkopeoCopyFromServe(t *testing.T) {
	testutil.Requires(t, testutil.Command("skopeo"))
	f := newFixture(t, Options{})
	host := strings.TrimPrefix(f.srv.URL, "http://")
	for _, tt := range []struct {
		path string
		want v1.Hash
	}{
		{"library/alpine:latest", f.alpine.Descriptor.Digest},
		{"library/busybox:1.38.0-musl", f.busybox.Descriptor.Digest},
	} {
		t.Run(tt.path, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			out, err := exec.Command("skopeo", "copy", "--src-tls-verify=false", "docker://"+host+"/"+tt.path, "oci:"+dir+":x").CombinedOutput()
			if err != nil {
				t.Fatalf("skopeo copy: %v\n%s", err, out)
			}
			if got := layoutDigest(t, dir); got != tt.want {
				t.Errorf("skopeo copied %s, want %s", got, tt.want)
			}
		})
	}
}

// TestPodmanPullFromServe pulls from `strata serve` with podman, in a temp root on vfs (a pull
// needs no cgroups, which this host's hybrid layout would otherwise refuse).
func TestPodmanPullFromServe(t *testing.T) {
	testutil.Requires(t, testutil.Podman)
	f := newFixture(t, Options{})
	host := strings.TrimPrefix(f.srv.URL, "http://")
	args := testutil.PodmanArgs(t.TempDir())
	ref := host + "/library/alpine:latest"
	if out, err := exec.Command("podman", append(args, "pull", "--tls-verify=false", ref)...).CombinedOutput(); err != nil {
		t.Fatalf("podman pull %s: %v\n%s", ref, err, out)
	}
	out, err := exec.Command("podman", append(args, "image", "inspect", "--format", "{{.Digest}}", ref)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != f.alpine.Descriptor.Digest.String() {
		t.Errorf("podman pulled %s, want %s", got, f.alpine.Descriptor.Digest)
	}
}

func layoutDigest(t *testing.T, dir string) v1.Hash {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) == 0 {
		t.Fatalf("index.json of skopeo's copy: %v %s", err, b)
	}
	return idx.Manifests[0].Digest
}
