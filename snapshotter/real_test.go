package snapshotter

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/strata-run/strata/internal/testutil"
)

// Real upstream layers, from the repo's testdata (see testdata/README.md).
var (
	alpineLayer   = filepath.Join("..", "testdata", "alpine", "alpine-minirootfs-3.20.3-x86_64.tar.gz")
	busyboxOCI    = filepath.Join("..", "testdata", "busybox", "busybox-1.38.0-musl-oci")
	alpineOlder   = filepath.Join("..", "testdata", "alpine", "alpine-minirootfs-3.19.4-x86_64.tar.gz")
	alpineRelease = "3.20.3\n"
)

// gzipDiffID hashes the uncompressed content of a gzip file: the DiffID an image config
// would list for it.
func gzipDiffID(t *testing.T, path string) v1.Hash {
	t.Helper()
	return gzipDiffIDTB(t, path)
}

func gzipDiffIDTB(t testing.TB, path string) v1.Hash {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		t.Fatal(err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

func unpackFile(t *testing.T, s *Snapshotter, path string) v1.Hash {
	t.Helper()
	d := gzipDiffID(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Unpack(t.Context(), d, types.DockerLayer, f); err != nil {
		t.Fatalf("Unpack(%s) = %v", path, err)
	}
	return d
}

// TestRealAlpine stacks alpine 3.20 over alpine 3.19 (every file replaced, some gone) and
// checks the container sees 3.20, with each driver.
func TestRealAlpine(t *testing.T) {
	testutil.Requires(t, testutil.Path(alpineLayer), testutil.Path(alpineOlder))
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			older := unpackFile(t, s, alpineOlder)
			newer := unpackFile(t, s, alpineLayer)
			cdir := filepath.Join(base, "containers", "alpine")
			mounts, err := s.Prepare(t.Context(), cdir, []v1.Hash{older, newer}, false)
			if err != nil {
				t.Fatalf("Prepare = %v", err)
			}
			rootfs := filepath.Join(cdir, "rootfs")
			mountAll(t, mounts, rootfs)
			wantContent(t, filepath.Join(rootfs, "etc", "alpine-release"), alpineRelease)
			// Absolute symlinks point into the container's root, not the host's.
			if target, err := os.Readlink(filepath.Join(rootfs, "bin", "sh")); err != nil || target != "/bin/busybox" {
				t.Errorf("readlink bin/sh = %q, %v, want /bin/busybox", target, err)
			}
			if fi, err := os.Stat(filepath.Join(rootfs, "bin", "busybox")); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("bin/busybox = %v, %v, want an executable", fi, err)
			}
			if err := s.Remove(t.Context(), cdir); err != nil {
				t.Fatalf("Remove = %v", err)
			}
		})
	}
}

// TestRealBusyboxLayout unpacks busybox with the DiffID its image config lists, which proves
// the DiffID check agrees with what registries publish.
func TestRealBusyboxLayout(t *testing.T) {
	testutil.Requires(t, testutil.Path(busyboxOCI))
	img := busyboxImage(t)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	s := newPlain(t)
	for i, l := range ls {
		mt, err := l.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		err = s.Unpack(t.Context(), cfg.RootFS.DiffIDs[i], mt, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("Unpack(layer %d, config diffid %s) = %v", i, cfg.RootFS.DiffIDs[i], err)
		}
	}
	dir := s.LayerDir(cfg.RootFS.DiffIDs[0])
	if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err != nil {
		t.Errorf("bin/busybox missing from the layer dir: %v", err)
	}
	// busybox's applets are hard links to one binary: counted once, the layer is small.
	size, err := DirSize(dir)
	if err != nil {
		t.Fatal(err)
	}
	var apparent int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			apparent += fi.Size()
		}
		return nil
	})
	if size >= apparent {
		t.Errorf("DirSize = %d, want less than the %d bytes of apparent file sizes (hard links once)", size, apparent)
	}
}
