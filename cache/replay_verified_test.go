package cache

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestLayerReplayFromDiskVerified: a layer stored by another process while this pull waited
// for the blob's lock is replayed from disk to the layer consumer checked as it is read: a
// stored file that is not the blob (its size, other bytes) ends the consumer's stream with an
// error, never in EOF, which the snapshotter takes as proof that the blob is its layer.
func TestLayerReplayFromDiskVerified(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("the layer's real bytes, which the registry would serve")
	forged := []byte("other bytes of the same size as the layer's real blob!")
	if len(forged) != len(blob) {
		t.Fatalf("test setup: %d != %d bytes", len(forged), len(blob))
	}
	h, _, err := v1.SHA256(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	desc := v1.Descriptor{Digest: h, Size: int64(len(blob)), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}
	p, err := s.blobPath(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	// What the other process left, as checkStored finds it once this one holds the lock.
	if err := os.WriteFile(p, forged, 0o644); err != nil {
		t.Fatal(err)
	}
	var consumerErr error
	opts := WriteOptions{
		Fetch: func(context.Context, v1.Hash, int64) (io.ReadCloser, error) {
			t.Error("the blob was fetched: the test needs it found stored")
			return io.NopCloser(bytes.NewReader(blob)), nil
		},
		Layer: func(_ context.Context, _ v1.Descriptor, _ v1.Hash, r io.Reader) error {
			_, consumerErr = io.Copy(io.Discard, r)
			return consumerErr
		},
	}
	_, _, err = s.fetchLayer(context.Background(), desc, v1.Hash{Algorithm: "sha256", Hex: h.Hex}, opts, func(EventKind, int64, error) {})
	if consumerErr == nil {
		t.Errorf("the layer consumer read a stored file that is not the blob to EOF (fetchLayer = %v)", err)
	}
	if err == nil {
		t.Error("fetchLayer of a stored file that is not the blob = nil error")
	}
}
