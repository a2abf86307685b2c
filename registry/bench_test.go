package registry

import (
	"context"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

func BenchmarkParseReference(b *testing.B) {
	inputs := []string{"alpine", "ghcr.io/org/app:v1.2.3", "localhost:5000/a/b@" + dgA}
	for i := 0; b.Loop(); i++ {
		if _, err := ParseReference(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolve measures what a `strata pull` of a present image costs in registry work:
// a new Puller (so a new handshake), then the manifest.
func BenchmarkResolve(b *testing.B) {
	host := serve(b, nil)
	img, err := random.Image(1024, 3)
	if err != nil {
		b.Fatal(err)
	}
	ref := mustRef(b, host+"/bench/app:1")
	if err := Push(context.Background(), ref, img, testOptions()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := NewPuller(testOptions())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Image(context.Background(), ref); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchBlob measures blob throughput through the whole transport stack.
func BenchmarkFetchBlob(b *testing.B) {
	host := serve(b, nil)
	const size = 8 << 20
	img, err := random.Image(size, 1)
	if err != nil {
		b.Fatal(err)
	}
	ref := mustRef(b, host+"/bench/blob:1")
	if err := Push(context.Background(), ref, img, testOptions()); err != nil {
		b.Fatal(err)
	}
	p, err := NewPuller(testOptions())
	if err != nil {
		b.Fatal(err)
	}
	got, err := p.Image(context.Background(), ref)
	if err != nil {
		b.Fatal(err)
	}
	layers, _ := img.Layers()
	h, _ := layers[0].Digest()
	n, _ := layers[0].Size()
	b.SetBytes(n)
	for b.Loop() {
		body, err := got.FetchBlob(context.Background(), h, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			b.Fatal(err)
		}
		body.Close()
	}
}
