package layers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// benchLayer is a layer shaped like a distro image: ~2,000 small files in ~100 directories,
// a few symlinks and hard links, and four 8 MiB files. Built once per process.
var (
	benchOnce sync.Once
	benchTar  []byte
	benchErr  error
)

func benchLayer(b testing.TB) []byte {
	b.Helper()
	benchOnce.Do(func() { benchTar, benchErr = tarBytes(benchEntries()...) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchTar
}

func benchEntries() []ent {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"lib", "usr", "share", "config", "value", "strata", "layer", "tar", "\n", " ", "0x7f", "=", "{", "}"}
	text := func(n int) string {
		var b bytes.Buffer
		for b.Len() < n {
			b.WriteString(words[rng.IntN(len(words))])
		}
		return b.String()[:n]
	}
	var entries []ent
	for d := range 100 {
		dirName := fmt.Sprintf("usr/share/pkg%03d/", d)
		entries = append(entries, dir(dirName, 0o755))
		for f := range 20 {
			entries = append(entries, file(fmt.Sprintf("%sfile%02d.txt", dirName, f), text(512+rng.IntN(8<<10)), 0o644))
		}
		entries = append(entries, symlink(dirName+"latest", "file00.txt"), hardlink(dirName+"copy", dirName+"file01.txt"))
	}
	for i := range 4 {
		entries = append(entries, file(fmt.Sprintf("usr/lib/big%d.so", i), text(8<<20), 0o755))
	}
	return entries
}

func BenchmarkApply(b *testing.B) {
	benchApply(b, benchLayer(b), "")
}

func BenchmarkApplyGzip(b *testing.B) {
	layer := benchLayer(b)
	benchApply(b, gzipOf(b, layer), types.OCILayer, int64(len(layer)))
}

func BenchmarkApplyZstd(b *testing.B) {
	layer := benchLayer(b)
	benchApply(b, zstdOf(b, layer), types.OCILayerZStd, int64(len(layer)))
}

// BenchmarkApplyAlpine applies the real alpine minirootfs layer from the repo's testdata, or
// from ../shared/images when testdata lacks it.
func BenchmarkApplyAlpine(b *testing.B) {
	const name = "alpine-minirootfs-3.20.3-x86_64.tar.gz"
	var layer []byte
	for _, p := range []string{filepath.Join("..", "testdata", "alpine", name), filepath.Join("..", "..", "shared", "images", "alpine", name)} {
		if data, err := os.ReadFile(p); err == nil {
			layer = data
			break
		}
	}
	if layer == nil {
		b.Skipf("skipping: %s is in neither ../testdata/alpine nor ../../shared/images/alpine", name)
	}
	benchApply(b, layer, types.OCILayer)
}

// benchApply applies layer into a fresh dir per iteration; bytes are the uncompressed size
// when given, so MB/s compares across compressions.
func benchApply(b *testing.B, layer []byte, mt types.MediaType, uncompressed ...int64) {
	size := int64(len(layer))
	if len(uncompressed) > 0 {
		size = uncompressed[0]
	}
	base := b.TempDir()
	opts := Options{MediaType: mt, IgnoreOwners: os.Geteuid() != 0}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(base, fmt.Sprint(i))
		b.StopTimer()
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Apply(context.Background(), dir, bytes.NewReader(layer), opts); err != nil {
			b.Fatalf("Apply() = %v", err)
		}
		b.StopTimer()
		makeWritable(dir)
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkDecompressGzip(b *testing.B) {
	layer := benchLayer(b)
	benchDecompress(b, gzipOf(b, layer), types.OCILayer, len(layer))
}

func BenchmarkDecompressZstd(b *testing.B) {
	layer := benchLayer(b)
	benchDecompress(b, zstdOf(b, layer), types.OCILayerZStd, len(layer))
}

func benchDecompress(b *testing.B, compressed []byte, mt types.MediaType, size int) {
	buf := make([]byte, copyBufSize)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rc, err := Decompress(bytes.NewReader(compressed), mt)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, rc, buf)
		if err != nil || n != int64(size) {
			b.Fatalf("decompressed %d bytes, %v; want %d", n, err, size)
		}
		if err := rc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiffIDHash is the hashing Apply does on the side: sha256 through a TeeReader.
func BenchmarkDiffIDHash(b *testing.B) {
	layer := benchLayer(b)
	buf := make([]byte, copyBufSize)
	b.SetBytes(int64(len(layer)))
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.New()
		if _, err := io.CopyBuffer(io.Discard, io.TeeReader(bytes.NewReader(layer), h), buf); err != nil {
			b.Fatal(err)
		}
		_ = hashOf(h)
	}
}
