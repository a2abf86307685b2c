package cache

import (
	"context"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BenchmarkWriteImage measures a pull of four 4 MiB layers from memory into a fresh store:
// hashing, writing, fsync and rename, with a Layer callback reading every stream.
func BenchmarkWriteImage(b *testing.B) {
	gen := imageOf(b, seededLayers(b, 60, 4, 4<<20)...)
	reg := newFakeRegistry(b, gen)
	// Serve manifest and config from a store, so the benchmark does not time mutate's lazy
	// recomputation of the generated image.
	src := openStore(b, b.TempDir())
	res, err := src.WriteImage(context.Background(), testRef, gen, WriteOptions{Fetch: reg.fetch})
	if err != nil {
		b.Fatal(err)
	}
	img, err := src.Image(res.Manifest.Digest)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, l := range layerDescs(b, img) {
		total += l.Size
	}
	b.SetBytes(total)
	drain := func(ctx context.Context, _ v1.Descriptor, _ v1.Hash, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	for b.Loop() {
		b.StopTimer()
		s := openStore(b, b.TempDir())
		b.StartTimer()
		if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{Fetch: reg.fetch, Layer: drain}); err != nil {
			b.Fatal(err)
		}
	}
}
