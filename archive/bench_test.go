package archive

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// benchLayerSize is the size of the random layer the benchmarks move: big enough that copying
// dominates, small enough to generate in a second.
const benchLayerSize = 64 << 20

// benchImage stores alpine plus one random 64 MiB layer and returns the ref and its size.
func benchImage(b *testing.B) (*cache.Store, cache.Ref, int64) {
	b.Helper()
	s := newStore(b)
	l, err := random.Layer(benchLayerSize, types.OCIUncompressedLayer)
	if err != nil {
		b.Fatal(err)
	}
	img, err := mutate.AppendLayers(alpine(b), l)
	if err != nil {
		b.Fatal(err)
	}
	ref := put(b, s, "example.com/bench:1", img)
	info, err := s.Info(ref)
	if err != nil {
		b.Fatal(err)
	}
	return s, ref, info.Size
}

// BenchmarkSave writes a docker-archive of the image to a file.
func BenchmarkSave(b *testing.B) {
	s, ref, size := benchImage(b)
	dir := b.TempDir()
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		f, err := os.Create(filepath.Join(dir, "a.tar"))
		if err != nil {
			b.Fatal(err)
		}
		if err := Save(context.Background(), f, s, []cache.Ref{ref}, SaveOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad loads that archive into an empty store: read, stage, verify, store, tag.
func BenchmarkLoad(b *testing.B) {
	s, ref, size := benchImage(b)
	file := filepath.Join(b.TempDir(), "a.tar")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := Save(context.Background(), f, s, []cache.Ref{ref}, SaveOptions{}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		dst := newStore(b)
		in, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Load(context.Background(), dst, in, LoadOptions{}); err != nil {
			b.Fatal(err)
		}
		in.Close()
	}
}

// skopeoLayout writes the bench image as an OCI layout, what skopeo copies from and to.
func skopeoLayout(b *testing.B) (string, int64) {
	b.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		b.Skip("skipping: skopeo is not installed (scripts/test-deps.sh installs it)")
	}
	s, ref, size := benchImage(b)
	dir := filepath.Join(b.TempDir(), "layout")
	if err := SaveDir(context.Background(), dir, s, []cache.Ref{ref}, SaveOptions{}); err != nil {
		b.Fatal(err)
	}
	return dir, size
}

func skopeo(b *testing.B, args ...string) {
	b.Helper()
	if out, err := exec.Command("skopeo", args...).CombinedOutput(); err != nil {
		b.Fatalf("skopeo %v: %v\n%s", args, err, out)
	}
}

// BenchmarkSkopeoSave is skopeo's copy of the same image from a layout to an archive: the
// bar BenchmarkSave is held to.
func BenchmarkSkopeoSave(b *testing.B) {
	dir, size := skopeoLayout(b)
	out := b.TempDir()
	b.SetBytes(size)
	for b.Loop() {
		file := filepath.Join(out, "a.tar")
		os.Remove(file)
		skopeo(b, "copy", "-q", "oci:"+dir, "oci-archive:"+file+":x")
	}
}

// BenchmarkSkopeoLoad is skopeo's copy of that archive into a fresh layout: the bar for
// BenchmarkLoad.
func BenchmarkSkopeoLoad(b *testing.B) {
	dir, size := skopeoLayout(b)
	file := filepath.Join(b.TempDir(), "a.tar")
	skopeo(b, "copy", "-q", "oci:"+dir, "oci-archive:"+file+":x")
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		dst := filepath.Join(b.TempDir(), "out")
		b.StartTimer()
		skopeo(b, "copy", "-q", "oci-archive:"+file+":x", "oci:"+dst+":x")
	}
}
