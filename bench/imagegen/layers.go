package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is the one timestamp every generated entry, layer and config carries, so that two runs
// on two machines produce the same digests.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// file is one regular file of a generated layer.
type file struct {
	name string
	data []byte
}

// randomBytes returns n pseudo-random bytes drawn from ChaCha8 seeded by seed: incompressible,
// like the binaries and assets of a real application layer, yet the same on every run.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b) // ChaCha8.Read never fails.
	return b
}

// halfCompressible returns n bytes whose first half is random and second half a repeated
// text, so gzip halves it, roughly like a mix of binaries and text in a real image.
func halfCompressible(seed uint64, n int) []byte {
	b := randomBytes(seed, n)
	text := []byte(fmt.Sprintf("strata benchmark filler line %d\n", seed))
	for i := n / 2; i < n; i++ {
		b[i] = text[i%len(text)]
	}
	return b
}

// gzipTar writes the files, with their parent directories, as a tar stream with fixed owners
// and times, gzips it without a name or time in the header, and returns the blob.
func gzipTar(dirs []string, files []file) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, d := range dirs {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing directory %s: %w", d, err)
		}
	}
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing file %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("writing file %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("closing gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// layerFromBlob wraps a gzip blob as an OCI layer; the blob's bytes are pushed as they are.
func layerFromBlob(blob []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// layerFromFile wraps an existing .tar.gz (the alpine minirootfs, the packed debootstrap) as a
// layer without recompressing it, so its digest is the file's sha256.
func layerFromFile(path string) (v1.Layer, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening layer file: %w", err)
	}
	l, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", path, err)
	}
	return l, nil
}

// appLayer is the unique layer of app image i: one 4 MiB incompressible file.
func appLayer(i int) ([]byte, error) {
	name := fmt.Sprintf("app/%d/data.bin", i)
	return gzipTar([]string{"app", fmt.Sprintf("app/%d", i)}, []file{{name, randomBytes(uint64(1000+i), 4<<20)}})
}

// smallLayer is layer i of the N-layer images: four 4 KiB random files in their own directory.
func smallLayer(i int) ([]byte, error) {
	dir := fmt.Sprintf("layers/%03d", i)
	var files []file
	for j := range 4 {
		files = append(files, file{fmt.Sprintf("%s/f%d", dir, j), randomBytes(uint64(100000+i*10+j), 4<<10)})
	}
	return gzipTar([]string{"layers", dir}, files)
}

// multiLayer is layer i of the ~100 MB multi-layer image: 250 files of 48 KiB, half compressible.
func multiLayer(i int) ([]byte, error) {
	dir := fmt.Sprintf("multi/%d", i)
	var files []file
	for j := range 250 {
		files = append(files, file{fmt.Sprintf("%s/f%03d", dir, j), halfCompressible(uint64(500000+i*1000+j), 48<<10)})
	}
	return gzipTar([]string{"multi", dir}, files)
}
