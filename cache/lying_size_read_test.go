package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestReadKeepsIntactBlobAgainstLyingSize: a reader given a descriptor of the wrong size for
// an intact stored blob (a manifest that lies, loaded into the store) fails, and leaves the
// blob: it took the blob for damaged and removed it, so one hostile image could make the
// store drop a layer every other image of the store uses (run, save, push and serve read
// through such descriptors). A blob that is damaged is removed as before.
func TestReadKeepsIntactBlobAgainstLyingSize(t *testing.T) {
	content := bytes.Repeat([]byte("an intact blob "), 1000)
	d := v1.Descriptor{Digest: hashOf(content), Size: int64(len(content))}
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		size int64
	}{
		{"shorter", d.Size - 1},
		{"longer", d.Size + 1},
		{"much shorter", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			if err := s.WriteBlob(ctx, d, bytes.NewReader(content)); err != nil {
				t.Fatal(err)
			}
			lie := d
			lie.Size = tt.size
			rc, err := s.openVerified(lie)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if !errors.Is(err, ErrSizeMismatch) && !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("reading blob %s as %d bytes = %v, want a size or digest mismatch", short(d.Digest), tt.size, err)
			}
			got, err := s.ReadBlob(d.Digest, 1<<20)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("ReadBlob after a read with a lying size = %d bytes, %v; want the intact blob", len(got), err)
			}
		})
	}
}
