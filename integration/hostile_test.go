package integration

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestHostileLayersThroughPull pushes images with hostile layers to the registry and pulls
// them with strata. Each pull fails with one line and status 1, leaves no layer dir (complete
// or temporary), and leaves the host untouched: a sentinel file outside the root keeps its
// content and nothing appears next to it.
func TestHostileLayersThroughPull(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	// The attacks aim at this directory, outside every strata root.
	outside := t.TempDir()
	sentinel := filepath.Join(outside, "sentinel")
	if err := os.WriteFile(sentinel, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(outside, "/")
	up := strings.Repeat("../", 30) // from any layer dir, up to /

	tests := []struct {
		name  string
		layer func(t *testing.T) v1.Layer
		env   []string // KEY=VALUE for strata
		want  string   // in the error line
	}{{
		name:  "parent traversal",
		layer: func(t *testing.T) v1.Layer { return gzipLayer(t, []tarEntry{{Name: "../../x", Body: "x"}}) },
		want:  "escapes",
	}, {
		name:  "deep traversal to the host",
		layer: func(t *testing.T) v1.Layer { return gzipLayer(t, []tarEntry{{Name: up + rel + "/pwned", Body: "x"}}) },
		want:  "escapes",
	}, {
		name: "symlink then write through it",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{
				{Name: "evil", Type: tar.TypeSymlink, Link: outside},
				{Name: "evil/pwned", Body: "x"},
			})
		},
	}, {
		name: "relative symlink then write through it",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{
				{Name: "evil", Type: tar.TypeSymlink, Link: up + rel},
				{Name: "evil/pwned", Body: "x"},
			})
		},
	}, {
		name: "hard link to a host file",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{{Name: "h", Type: tar.TypeLink, Link: up + rel + "/sentinel"}})
		},
	}, {
		name: "absolute hard link to a host file",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{{Name: "h", Type: tar.TypeLink, Link: sentinel}})
		},
	}, {
		name: "hard link through a symlink",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{
				{Name: "s", Type: tar.TypeSymlink, Link: outside},
				{Name: "h", Type: tar.TypeLink, Link: "s/sentinel"},
			})
		},
	}, {
		name: "whiteout escape",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{{Name: up + rel + "/.wh.sentinel"}})
		},
		want: "escapes",
	}, {
		name: "whiteout through a symlink",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{
				{Name: "evil", Type: tar.TypeSymlink, Link: outside},
				{Name: "evil/.wh.sentinel"},
			})
		},
	}, {
		name: "opaque marker through a symlink",
		layer: func(t *testing.T) v1.Layer {
			return gzipLayer(t, []tarEntry{
				{Name: "evil", Type: tar.TypeSymlink, Link: outside},
				{Name: "evil/.wh..wh..opq"},
			})
		},
	}, {
		name: "decompression bomb",
		layer: func(t *testing.T) v1.Layer {
			// 64 MiB of zeros gzip to ~64 KiB; the limit is 8 MiB.
			return gzipLayer(t, []tarEntry{{Name: "bomb", BodySize: 64 << 20}})
		},
		env:  []string{"STRATA_MAX_LAYER_SIZE=8388608"},
		want: "too large",
	}, {
		name: "truncated stream",
		layer: func(t *testing.T) v1.Layer {
			l := gzipLayer(t, []tarEntry{{Name: "a", Body: strings.Repeat("data ", 20000)}, {Name: "b", Body: "b"}})
			l.blob = l.blob[:len(l.blob)/2]
			return l
		},
	}, {
		name: "diffid that is a path",
		layer: func(t *testing.T) v1.Layer {
			l := gzipLayer(t, []tarEntry{{Name: "a", Body: "a"}})
			l.diffID = v1.Hash{Algorithm: "sha256", Hex: "../../../../" + rel + "/pwned"}
			return l
		},
	}, {
		name: "config lies about the diffid",
		layer: func(t *testing.T) v1.Layer {
			l := gzipLayer(t, []tarEntry{{Name: "a", Body: "a"}})
			l.diffID = sha256Hash([]byte("something else"))
			return l
		},
		want: "diffid",
	}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			l := tt.layer(t)
			ref, _ := pushImage(t, reg, "hostile/case"+string(rune('a'+i))+":v1", scratchBase(t), l)
			root := newRoot(t)
			r := strata(t, root, "pull", "-q", ref)
			t.Logf("pull: %s", strings.TrimSpace(r.Stderr))
			if r.Code != 1 {
				t.Errorf("pull = exit %d, want 1\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
			}
			assertOneLineError(t, r.Stderr, tt.want)
			assertHostUntouched(t, outside, sentinel)
			if complete, other := layerDirs(t, root); len(complete) > 0 || containsPrefix(other, ".tmp-") {
				t.Errorf("snapshots after the failed pull: layer dirs %v, others %v; want none", complete, other)
			}
			if _, err := os.Lstat(filepath.Join(root, "x")); err == nil {
				t.Errorf("../../x landed in the root at %s", filepath.Join(root, "x"))
			}
			if images := mustStrata(t, root, "images", "--format", "json"); strings.TrimSpace(images.Stdout) != "" {
				t.Errorf("images after the failed pull = %q, want none", images.Stdout)
			}
		})
	}
}

// TestAbsoluteNamesAreRooted pulls a layer whose entry has an absolute name aimed at the
// host: the name is rooted at the layer dir (as docker and containerd do), so the pull works,
// the file is inside the image, and the host is untouched.
func TestAbsoluteNamesAreRooted(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	outside := t.TempDir()
	sentinel := filepath.Join(outside, "sentinel")
	if err := os.WriteFile(sentinel, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := gzipLayer(t, []tarEntry{{Name: outside + "/pwned", Body: "inside"}, {Name: sentinel, Body: "overwritten"}})
	ref, _ := pushImage(t, reg, "hostile/absolute:v1", alpineBase(t), l)
	root := newRoot(t)
	mustStrata(t, root, "pull", "-q", ref)
	assertHostUntouched(t, outside, sentinel)
	out := mustStrata(t, root, "run", "--rm", ref, "cat", outside+"/pwned", sentinel)
	if out.Stdout != "insideoverwritten" {
		t.Errorf("in the container, cat pwned sentinel = %q, want the layer's files", out.Stdout)
	}
}

// TestMislabelledLayersApply pulls layers whose media type names another compression than
// their bytes have: they are read as their magic bytes say, as docker (DecompressStream),
// containerd and podman read them, and the diffID the config names is still checked.
func TestMislabelledLayersApply(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	raw := tarBytes(t, []tarEntry{{Name: "plain", Body: "plain tar"}})
	plain := &rawLayer{blob: raw, mt: types.OCILayer, diffID: sha256Hash(raw)} // gzip label
	zstdLabel := gzipLayer(t, []tarEntry{{Name: "gzipped", Body: "gzip blob"}})
	zstdLabel.mt = types.OCILayerZStd
	ref, _ := pushImage(t, reg, "hostile/mislabelled:v1", alpineBase(t), plain, zstdLabel)
	root := newRoot(t)
	mustStrata(t, root, "pull", "-q", ref)
	out := mustStrata(t, root, "run", "--rm", ref, "cat", "/plain", "/gzipped")
	if out.Stdout != "plain targzip blob" {
		t.Errorf("in the container, cat /plain /gzipped = %q, want both layers' files", out.Stdout)
	}
}

// TestDeviceNodeIsNodev pulls a layer carrying a character device (/dev/zero's numbers, 1/5):
// as root the node is created, but the container's root is mounted nodev, so it cannot be
// opened, whatever the devices cgroup allows (a --privileged container lifts that).
func TestDeviceNodeIsNodev(t *testing.T) {
	requiresContainers(t)
	reg := startRegistry(t)
	l := gzipLayer(t, []tarEntry{{Name: "zero", Type: tar.TypeChar, Major: 1, Minor: 5, Mode: 0o666}})
	ref, _ := pushImage(t, reg, "hostile/device:v1", alpineBase(t), l)
	for _, driver := range []string{"overlay", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			root := newRoot(t)
			mustStrata(t, root, "--storage-driver", driver, "pull", "-q", ref)
			out := mustStrata(t, root, "--storage-driver", driver, "run", "--rm", ref, "sh", "-c",
				"test -c /zero && echo node; head -c 1 /zero >/dev/null 2>&1 && echo opened || echo refused")
			if out.Stdout != "node\nrefused\n" {
				t.Errorf("with %s, the device node in the image: %q, want it present and refused", driver, out.Stdout)
			}
		})
	}
}

// assertHostUntouched checks that the sentinel keeps its content and is the only entry of the
// directory the attacks aimed at.
func assertHostUntouched(t *testing.T, outside, sentinel string) {
	t.Helper()
	data, err := os.ReadFile(sentinel)
	if err != nil || !bytes.Equal(data, []byte("untouched")) {
		t.Errorf("sentinel %s: %q, %v; want it untouched", sentinel, data, err)
	}
	var st os.FileInfo
	if st, err = os.Stat(sentinel); err == nil {
		if n := nlink(st); n != 1 {
			t.Errorf("sentinel has %d links, want 1: a layer hard-linked it", n)
		}
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "sentinel" {
			t.Errorf("%s appeared outside the root", filepath.Join(outside, e.Name()))
		}
	}
}

func nlink(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 0
}
