package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRefusesSymlinkedDirs: a store whose blobs/, blobs/sha256/ or ingest/ is a
// symlink is refused in one line, and nothing is written where the link
// points. Through such a link a pull wrote its locks, partial downloads and blobs outside the
// store, and prune removed files there named like blobs or partial downloads.
func TestOpenRefusesSymlinkedDirs(t *testing.T) {
	img := imageOf(t, seededLayers(t, 81, 1, 4096)...)
	for _, which := range []string{"blobs", "blobs/sha256", "ingest"} {
		t.Run(which, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "oci")
			s := openStore(t, dir)
			if _, err := s.WriteImage(context.Background(), testRef, img, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			own := filepath.Join(dir, which)
			elsewhere := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.Rename(own, elsewhere); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, own); err != nil {
				t.Fatal(err)
			}
			before := listTree(t, elsewhere)
			_, err := Open(dir)
			if !errors.Is(err, ErrInvalidLayout) || !strings.Contains(err.Error(), "symlink") || strings.Contains(err.Error(), "\n") {
				t.Errorf("Open with %s a symlink = %v, want one line refusing the symlink", which, err)
			}
			if after := listTree(t, elsewhere); after != before {
				t.Errorf("Open wrote where %s points:\nbefore %s\nafter  %s", which, before, after)
			}
		})
	}
	// The store's own path may be a link: it is the caller's, as --root is.
	real := filepath.Join(t.TempDir(), "real")
	openStore(t, real)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	openStore(t, link)

	// A dangling one too: it is not made through.
	dir := filepath.Join(t.TempDir(), "oci")
	gone := filepath.Join(t.TempDir(), "gone", "ingest")
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(gone, filepath.Join(dir, "ingest")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("Open with a dangling ingest symlink = %v, want ErrInvalidLayout", err)
	}
	if _, err := os.Lstat(gone); err == nil {
		t.Errorf("Open made %s through the symlink", gone)
	}
}

// listTree names every path under dir, for comparing before and after.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " ")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
