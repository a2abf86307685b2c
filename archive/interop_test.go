package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testutil"
)

// run runs an external tool and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// podman returns the global flags for a private podman root in a temp dir.
func podman(t *testing.T) []string {
	t.Helper()
	testutil.Requires(t, testutil.Podman)
	return testutil.PodmanArgs(t.TempDir())
}

// TestLoadSkopeoOCIArchive loads what `skopeo copy … oci-archive:` writes, from the busybox
// layout: the manifest digest must survive.
func TestLoadSkopeoOCIArchive(t *testing.T) {
	testutil.Requires(t, testutil.Command("skopeo"))
	file := filepath.Join(t.TempDir(), "busybox.tar")
	run(t, "skopeo", "copy", "oci:"+busyboxDir(t)+":busybox:1.38.0-musl", "oci-archive:"+file+":busybox:skopeo")
	s := newStore(t)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Load(context.Background(), s, f, LoadOptions{})
	if err != nil {
		t.Fatalf("Load(skopeo oci-archive) = %v", err)
	}
	want := busyboxManifest(t)
	if len(got) != 1 || got[0].Ref != "docker.io/library/busybox:skopeo" || got[0].Manifest.Digest != want {
		t.Errorf("Load() = %+v, want docker.io/library/busybox:skopeo at %s", got, want)
	}
}

// TestSkopeoReadsOurArchives: skopeo reads the docker-archive and oci-archive strata writes,
// and the manifest it copies out of the OCI one is byte for byte ours.
func TestSkopeoReadsOurArchives(t *testing.T) {
	testutil.Requires(t, testutil.Command("skopeo"))
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	for _, tt := range []struct {
		format    Format
		transport string
	}{
		{DockerArchive, "docker-archive:"},
		{OCIArchive, "oci-archive:"},
	} {
		t.Run(string(tt.format), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "a.tar")
			if err := os.WriteFile(file, save(t, src, tt.format, ref), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			run(t, "skopeo", "copy", tt.transport+file, "oci:"+out+":x")
			if tt.format == OCIArchive {
				if d := layoutManifest(t, out); d != ref.Descriptor.Digest {
					t.Errorf("skopeo copied manifest %s, want %s", d, ref.Descriptor.Digest)
				}
			}
		})
	}
}

// TestPodmanInterop: podman loads strata's docker-archive with the image's name, and strata
// loads what `podman save` writes in both of podman's formats.
func TestPodmanInterop(t *testing.T) {
	args := podman(t)
	file := busyboxDockerArchive(t)
	out, err := exec.Command("podman", append(args, "load", "-i", file)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman load: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("docker.io/library/busybox:1.38.0-musl")) {
		t.Errorf("podman load printed %q, want the image's name", out)
	}
	for _, format := range []string{"oci-archive", "docker-archive"} {
		t.Run(format, func(t *testing.T) {
			saved := filepath.Join(t.TempDir(), "saved.tar")
			run(t, "podman", append(args, "save", "--format", format, "-o", saved, "docker.io/library/busybox:1.38.0-musl")...)
			s := newStore(t)
			f, err := os.Open(saved)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Load(context.Background(), s, f, LoadOptions{})
			if err != nil {
				t.Fatalf("Load(podman save --format %s) = %v", format, err)
			}
			if len(got) != 1 || got[0].Ref != "docker.io/library/busybox:1.38.0-musl" {
				t.Fatalf("Load() = %+v, want docker.io/library/busybox:1.38.0-musl", got)
			}
			info, err := s.Info(cache.Ref{Name: got[0].Ref, Descriptor: got[0].Manifest})
			if err != nil {
				t.Fatal(err)
			}
			// podman recompresses or unpacks layers, so the manifest differs; the config,
			// and with it the image ID and DiffIDs, is what survives a podman round trip.
			if info.ID.Hex != "654fc8fd836e35f4a64586bddf8f59b9029b48cf80f520834c6c98ca8ab5def9" {
				t.Errorf("image ID = %s, want busybox's config", info.ID)
			}
		})
	}
}

// busyboxManifest is the manifest digest the busybox layout in testdata names.
func busyboxManifest(t *testing.T) v1.Hash {
	return layoutManifest(t, busyboxDir(t))
}

// layoutManifest reads the first manifest digest of an OCI layout's index.json.
func layoutManifest(t *testing.T, dir string) v1.Hash {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) == 0 {
		t.Fatalf("%s/index.json lists no manifests", dir)
	}
	return idx.Manifests[0].Digest
}
