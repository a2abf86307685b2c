package snapshotter

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobOf is the descriptor of the gzipped layer blob gz.
func blobOf(gz []byte) v1.Descriptor {
	sum := sha256.Sum256(gz)
	return v1.Descriptor{MediaType: gzipLayer, Size: int64(len(gz)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
}

// regzip compresses the tar inside gz again at another level: another blob of the same layer.
func regzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// counted is an open func that counts its calls.
func counted(gz []byte, n *int) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		*n++
		return io.NopCloser(bytes.NewReader(gz)), nil
	}
}

// TestEnsureChecksBlobAgainstLayerUnpackedFromAnother: a layer dir unpacked from one blob is
// used for another blob paired with its DiffID (by an image stored with --no-unpack, a load)
// only once that blob hashes to it. Ensure took the dir for any blob: a run of the image
// that stored a blob of other content used the layer dir, while save and push wrote the blob.
func TestEnsureChecksBlobAgainstLayerUnpackedFromAnother(t *testing.T) {
	s := newPlain(t)
	good := buildLayer(t, file("a", "the layer"))
	other := buildLayer(t, file("a", "other content"))
	if err := s.UnpackBlob(t.Context(), good.diffID, blobOf(good.gz), bytes.NewReader(good.gz)); err != nil {
		t.Fatal(err)
	}
	if !s.Proven(good.diffID, blobOf(good.gz).Digest) {
		t.Fatal("the blob a layer was unpacked from is not proven to be it")
	}
	opens := 0
	if err := s.Ensure(t.Context(), good.diffID, blobOf(good.gz), counted(good.gz, &opens)); err != nil || opens != 0 {
		t.Errorf("Ensure of the proven blob = %v after %d opens, want nil without opening it", err, opens)
	}

	// Another blob, of other content, paired with the DiffID: refused, and not recorded.
	bad := blobOf(other.gz)
	err := s.Ensure(t.Context(), good.diffID, bad, counted(other.gz, &opens))
	if !errors.Is(err, ErrDiffIDMismatch) {
		t.Fatalf("Ensure of a blob that is not the layer = %v, want ErrDiffIDMismatch", err)
	}
	if s.Proven(good.diffID, bad.Digest) {
		t.Error("a blob that failed its check is recorded as the layer")
	}
	if err := s.Check(t.Context(), good.diffID, bad, counted(other.gz, &opens)); !errors.Is(err, ErrDiffIDMismatch) {
		t.Errorf("Check of a blob that is not the layer = %v, want ErrDiffIDMismatch", err)
	}

	// Another blob of the same tar (compressed otherwise): hashed once, then proven.
	again := regzip(t, good.gz)
	opens = 0
	for i := range 2 {
		if err := s.Ensure(t.Context(), good.diffID, blobOf(again), counted(again, &opens)); err != nil {
			t.Fatalf("Ensure #%d of another blob of the layer = %v", i, err)
		}
	}
	if opens != 1 {
		t.Errorf("another blob of the layer was opened %d times, want once (then it is proven)", opens)
	}
	if err := s.Check(t.Context(), good.diffID, blobOf(again), counted(again, &opens)); err != nil || opens != 1 {
		t.Errorf("Check of a proven blob = %v after %d opens, want nil without opening it", err, opens)
	}
}

// TestCheckWithoutLayerDir: Check vouches only against a layer dir here; without one there
// is nothing to take the blob for, and it is not read.
func TestCheckWithoutLayerDir(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	other := buildLayer(t, file("a", "b"))
	opens := 0
	if err := s.Check(t.Context(), l.diffID, blobOf(other.gz), counted(other.gz, &opens)); err != nil || opens != 0 {
		t.Errorf("Check without the layer dir = %v after %d opens, want nil unread", err, opens)
	}
	if s.Proven(l.diffID, blobOf(other.gz).Digest) {
		t.Error("Check without the layer dir recorded a proof")
	}
}

// TestPruneRemovesProofs: the proofs of a layer go with its dir.
func TestPruneRemovesProofs(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	if err := s.UnpackBlob(t.Context(), l.diffID, blobOf(l.gz), bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(t.Context(), nil, false); err != nil {
		t.Fatal(err)
	}
	if s.Proven(l.diffID, blobOf(l.gz).Digest) {
		t.Error("the proof of a pruned layer is left")
	}
	if ents, err := os.ReadDir(filepath.Join(s.Root(), provenDir)); err != nil || len(ents) != 0 {
		t.Errorf("proofs dir after the prune: %v, %v; want it empty", ents, err)
	}
}

// TestProofsDirSymlinkRefused: a .proven that is a symlink is refused, as .locks is: proofs
// would be written wherever it pointed.
func TestProofsDirSymlinkRefused(t *testing.T) {
	root := filepath.Join(t.TempDir(), "snapshots")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(root, provenDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(root, Options{Driver: VFS}); err == nil {
		t.Error("New with .proven a symlink succeeded")
	}
}

// TestCheckOnReadOnlyProofs: save and push check from a store they only read: a proof that
// cannot be written (a read-only or full store) fails nothing the blob passed.
func TestCheckOnReadOnlyProofs(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	if err := s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(l.gz)); err != nil {
		t.Fatal(err)
	}
	// A file where the proofs dir goes: no proof can be written there.
	if err := os.WriteFile(filepath.Join(s.Root(), provenDir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	opens := 0
	if err := s.Check(t.Context(), l.diffID, blobOf(l.gz), counted(l.gz, &opens)); err != nil || opens != 1 {
		t.Errorf("Check of the layer's blob, no proof writable = %v after %d opens, want nil after one", err, opens)
	}
}
