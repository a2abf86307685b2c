package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStoreFileIsFIFO: a FIFO at index.json or at a blob fails the reader at once. os.Open of
// a FIFO blocks until a writer comes: every command hung, past SIGTERM (open(2) is not
// interrupted by the signal strata catches).
func TestStoreFileIsFIFO(t *testing.T) {
	img := imageOf(t, seededLayers(t, 3, 1, 512)...)
	for _, tc := range []struct {
		name string
		path func(s *Store) string
		read func(s *Store) error
	}{
		{"index.json", func(s *Store) string { return filepath.Join(s.Dir(), indexFile) }, func(s *Store) error {
			_, err := Open(s.Dir())
			return err
		}},
		{"manifest", func(s *Store) string {
			d, _ := img.Digest()
			return s.BlobPath(d)
		}, func(s *Store) error {
			// Listed as damaged, rather than failing the listing.
			infos, err := s.Infos()
			if err != nil || len(infos) != 1 {
				return fmt.Errorf("Infos() = %d images, %w", len(infos), err)
			}
			return infos[0].Damaged
		}},
		{"layer", func(s *Store) string { return s.BlobPath(layerDescs(t, img)[0].Digest) }, func(s *Store) error {
			rc, err := s.openVerified(layerDescs(t, img)[0])
			if err == nil {
				rc.Close()
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			if _, err := s.WriteImage(context.Background(), "example.com/a:1", img, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			p := tc.path(s)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tc.read(s) }()
			select {
			case err := <-done:
				if !errors.Is(err, errNotRegular) {
					t.Errorf("reading with a FIFO at the %s = %v, want errNotRegular", tc.name, err)
				}
			case <-time.After(30 * time.Second):
				// Unblock the reader so the test binary can end.
				if w, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
					w.Close()
				}
				t.Fatalf("reading with a FIFO at the %s still blocked after 30s", tc.name)
			}
		})
	}
}

// TestStoreBlobIsSymlink: a blob that is a symlink is not read through: a store file is never
// one, and one put there (to /etc/shadow, say) would be served and saved as the blob's bytes.
func TestStoreBlobIsSymlink(t *testing.T) {
	img := imageOf(t, seededLayers(t, 3, 1, 512)...)
	s := openStore(t, t.TempDir())
	if _, err := s.WriteImage(context.Background(), "example.com/a:1", img, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	l := layerDescs(t, img)[0]
	p := s.BlobPath(l.Digest)
	moved := filepath.Join(t.TempDir(), "blob")
	if err := os.Rename(p, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, p); err != nil {
		t.Fatal(err)
	}
	if rc, err := s.OpenBlob(l.Digest); err == nil {
		rc.Close()
		t.Errorf("OpenBlob through a symlink succeeded")
	} else if !errors.Is(err, errNotRegular) {
		t.Errorf("OpenBlob through a symlink = %v, want errNotRegular", err)
	}
}
