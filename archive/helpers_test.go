package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
	"github.com/strata-run/strata/internal/testimages"
)

// newStore opens an empty store in a temp root, as <root>/oci.
func newStore(t testing.TB) *cache.Store {
	t.Helper()
	s, err := cache.Open(filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testdata(t testing.TB) string {
	t.Helper()
	dir, err := testimages.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// busyboxDir is the upstream busybox OCI layout in testdata.
func busyboxDir(t testing.TB) string {
	return filepath.Join(testdata(t), "busybox", "busybox-1.38.0-musl-oci")
}

// alpine builds alpine:3.20.3 for the host as Docker Hub serves it.
func alpine(t testing.TB) v1.Image {
	t.Helper()
	img, err := testimages.AlpineImage(testdata(t), testimages.AlpineVersion, testimages.HostArch())
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// onAlpine is alpine with one small random layer on top: an image sharing alpine's base.
func onAlpine(t testing.TB, size int64) v1.Image {
	t.Helper()
	l, err := random.Layer(size, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(alpine(t), l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// put stores img under ref.
func put(t testing.TB, s *cache.Store, ref string, img v1.Image) cache.Ref {
	t.Helper()
	res, err := s.WriteImage(context.Background(), ref, img, cache.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cache.Ref{Name: ref, Descriptor: res.Manifest}
}

// storedBlobs lists the blob files of a store.
func storedBlobs(t testing.TB, s *cache.Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Dir(), "blobs", "sha256"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// tarEntry is one entry of an archive built or rewritten by a test.
type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644}, data: data}
}

func readTar(t testing.TB, b []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: *hdr, data: data})
	}
}

func writeTar(t testing.TB, ents []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// save writes refs from s as a tar archive in format.
func save(t testing.TB, s *cache.Store, format Format, refs ...cache.Ref) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Save(context.Background(), &buf, s, refs, SaveOptions{Format: format}); err != nil {
		t.Fatalf("Save(%s) = %v", format, err)
	}
	return buf.Bytes()
}
