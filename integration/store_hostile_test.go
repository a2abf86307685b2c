package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testimages"
	"github.com/strata-run/strata/internal/testutil"
)

// TestLoadHostileInputs runs `strata load -i` on layouts and archives built to break it. Each
// must fail with one line on stderr, a non-zero status, and a store without a blob or ref.
func TestLoadHostileInputs(t *testing.T) {
	t.Parallel()
	testutil.Requires(t, testutil.Root)
	td, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	busybox := filepath.Join(td, "busybox", "busybox-1.38.0-musl-oci")
	var idx v1.IndexManifest
	b, err := os.ReadFile(filepath.Join(busybox, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) == 0 {
		t.Fatalf("testdata busybox index.json: %v", err)
	}
	manifest := idx.Manifests[0].Digest.Hex
	// A good archive of it, saved by strata from a root that loaded the layout.
	good := filepath.Join(t.TempDir(), "busybox.tar")
	src := newRoot(t)
	env := testEnv(t.TempDir())
	mustRun(t, env, "", src, "load", "-q", "-i", busybox)
	mustRun(t, env, "", src, "save", "-o", good, "busybox:1.38.0-musl")
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}

	// layout returns a copy of the busybox layout broken by fn.
	layout := func(t *testing.T, fn func(dir string) error) string {
		dir := filepath.Join(t.TempDir(), "layout")
		if err := os.CopyFS(dir, os.DirFS(busybox)); err != nil {
			t.Fatal(err)
		}
		if err := fn(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// file writes b to a new file.
	file := func(t *testing.T, b []byte) string {
		p := filepath.Join(t.TempDir(), "archive")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	blob := func(dir, hex string) string { return filepath.Join(dir, "blobs", "sha256", hex) }

	tests := []struct {
		name  string
		input func(t *testing.T) string
		want  string
	}{
		{"layout blobs dir a symlink to /etc", func(t *testing.T) string {
			return layout(t, func(dir string) error {
				if err := os.RemoveAll(filepath.Join(dir, "blobs", "sha256")); err != nil {
					return err
				}
				return os.Symlink("/etc", filepath.Join(dir, "blobs", "sha256"))
			})
		}, "symlink"},
		{"layout manifest a fifo", func(t *testing.T) string {
			return layout(t, func(dir string) error {
				if err := os.Remove(blob(dir, manifest)); err != nil {
					return err
				}
				return unix.Mkfifo(blob(dir, manifest), 0o644)
			})
		}, "not a regular file"},
		{"layout index.json not json", func(t *testing.T) string {
			return layout(t, func(dir string) error {
				return os.WriteFile(filepath.Join(dir, "index.json"), []byte("{\"manifests\": [tru"), 0o644)
			})
		}, "index.json"},
		{"layout manifest bytes changed", func(t *testing.T) string {
			return layout(t, func(dir string) error {
				b, err := os.ReadFile(blob(dir, manifest))
				if err != nil {
					return err
				}
				return os.WriteFile(blob(dir, manifest), bytes.Replace(b, []byte("schemaVersion"), []byte("schemaVersiom"), 1), 0o644)
			})
		}, "digest mismatch"},
		{"archive truncated and gzipped", func(t *testing.T) string { return file(t, gz(goodBytes[:len(goodBytes)/2])) }, "unexpected EOF"},
		{"gzip cut short", func(t *testing.T) string { z := gz(goodBytes); return file(t, z[:len(z)/2]) }, "unexpected EOF"},
		{"empty file", func(t *testing.T) string { return file(t, nil) }, "empty"},
		{"not an archive", func(t *testing.T) string { return file(t, []byte("<html>not found</html>")) }, "archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t)
			r := run(t, env, "", root, "load", "-i", tt.input(t))
			checkFailed(t, r, tt.want)
			if blobs := storeBlobs(t, root); len(blobs) != 0 {
				t.Errorf("store holds %d blobs after a failed load", len(blobs))
			}
			if refs := storeRefs(t, root); len(refs) != 0 {
				t.Errorf("refs after a failed load: %v", refs)
			}
		})
	}
}

// TestPullRepairsDamagedStore: a store blob damaged on disk (a config with one byte changed,
// a truncated manifest) is found by the next pull, which stores it again and succeeds.
func TestPullRepairsDamagedStore(t *testing.T) {
	t.Parallel()
	testutil.Requires(t, testutil.Root)
	r := startRegistry(t)
	ref := r.Host + "/library/alpine:" + testimages.AlpineVersion
	env := testEnv(t.TempDir())
	tests := []struct {
		name   string
		damage func(t *testing.T, root string, m v1.Manifest, manifest v1.Hash)
	}{
		{"config changed", func(t *testing.T, root string, m v1.Manifest, _ v1.Hash) {
			p := filepath.Join(root, "oci", "blobs", "sha256", m.Config.Digest.Hex)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"manifest truncated", func(t *testing.T, root string, _ v1.Manifest, manifest v1.Hash) {
			if err := os.Truncate(filepath.Join(root, "oci", "blobs", "sha256", manifest.Hex), 20); err != nil {
				t.Fatal(err)
			}
		}},
		// The layer's snapshot is still there: the re-pull must not call the image up to date.
		{"layer truncated", func(t *testing.T, root string, m v1.Manifest, _ v1.Hash) {
			if err := os.Truncate(filepath.Join(root, "oci", "blobs", "sha256", m.Layers[0].Digest.Hex), 100); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := newRoot(t)
			mustRun(t, env, "", root, "pull", "-q", ref)
			refs := storeRefs(t, root)
			if len(refs) != 1 {
				t.Fatalf("refs after a pull: %v, want one", refs)
			}
			mh := refs[0].Digest
			mb, err := os.ReadFile(filepath.Join(root, "oci", "blobs", "sha256", mh.Hex))
			if err != nil {
				t.Fatal(err)
			}
			var m v1.Manifest
			if err := json.Unmarshal(mb, &m); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, root, m, mh)
			mustRun(t, env, "", root, "pull", "-q", ref)
			checkStoreComplete(t, root)
			for _, d := range []v1.Descriptor{{Digest: mh, Size: int64(len(mb))}, m.Config, m.Layers[0]} {
				if !storeBlobs(t, root)[d.Digest.String()] {
					t.Errorf("blob %s missing after the repairing pull", d.Digest)
				}
				if st, err := os.Stat(filepath.Join(root, "oci", "blobs", "sha256", d.Digest.Hex)); err != nil || st.Size() != d.Size {
					t.Errorf("blob %s after the repairing pull: %v, %v; want %d bytes", d.Digest, st, err, d.Size)
				}
			}
		})
	}
}

// storeRefs returns the descriptors root's index.json names (none when the store was never
// made).
func storeRefs(t *testing.T, root string) []v1.Descriptor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "oci", "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	return idx.Manifests
}
