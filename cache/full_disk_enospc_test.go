package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
)

// fillInodes creates empty files in dir until its file system has no inode left.
func fillInodes(t *testing.T, dir string) {
	t.Helper()
	for i := 0; ; i++ {
		g, err := os.Create(filepath.Join(dir, fmt.Sprintf("fill-%d", i)))
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
		g.Close()
	}
}

// TestUntagOnFullDisk: removing an image is how a full disk is freed, so an untag (rmi's first
// step) must not be refused by the full disk it is to free. It failed "writing index.json:
// write .index.json.tmp-…: no space left on device": index.json is replaced by a new file,
// which needs room even when it is smaller. A tag, which grows index.json, still fails.
func TestUntagOnFullDisk(t *testing.T) {
	for _, what := range []string{"blocks", "inodes"} {
		t.Run(what, func(t *testing.T) {
			dir := testutil.SmallDisk(t, "size=2m,nr_inodes=400")
			s := openStore(t, filepath.Join(dir, "store"))
			desc := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2,
				Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}}
			// A few KiB of index.json, so that its new version needs more than the one block a
			// directory entry might still find.
			for i := range 60 {
				if err := s.Tag(fmt.Sprintf("example.com/some/long/repository/name/image:tag-%03d", i), desc); err != nil {
					t.Fatal(err)
				}
			}
			if what == "blocks" {
				testutil.FillDisk(t, dir)
			} else {
				fillInodes(t, dir)
			}
			err := s.Tag("example.com/new:1", desc)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Tag on a full disk = %v, want ENOSPC", err)
			}
			if err := s.Untag("example.com/some/long/repository/name/image:tag-007"); err != nil {
				t.Fatalf("Untag on a full disk = %v, want it to free the space", err)
			}
			refs, err := s.List()
			if err != nil || len(refs) != 59 {
				t.Fatalf("List after the untag = %d refs, %v; want 59", len(refs), err)
			}
			// Once space is freed, the next tag succeeds (and the reserve comes back).
			matches, _ := filepath.Glob(filepath.Join(dir, "fill*"))
			for _, m := range matches {
				os.Remove(m)
			}
			if err := s.Tag("example.com/new:1", desc); err != nil {
				t.Fatalf("Tag once space is freed = %v", err)
			}
			if err := s.Untag("example.com/some/long/repository/name/image:tag-008"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpenReadOnlyWithoutIngest: a store on a read-only file system that lacks the ingest
// directory (an OCI layout that another tool wrote, or a copy that kept no empty directories)
// is still read: images and inspect worked only where Open could create the directory, and
// failed "opening store: mkdir …/ingest: read-only file system". A write says the file system
// is read-only, not that a lock file's directory is missing.
func TestOpenReadOnlyWithoutIngest(t *testing.T) {
	dir := testutil.SmallDisk(t, "size=2m")
	root := filepath.Join(dir, "store")
	s := openStore(t, root)
	desc := v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2,
		Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}}
	if err := s.Tag("example.com/ro:1", desc); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "ingest")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("remounting read-only: %v", err)
	}
	ro, err := Open(root)
	if err != nil {
		t.Fatalf("Open of a read-only store without ingest/ = %v", err)
	}
	refs, err := ro.List()
	if err != nil || len(refs) != 1 {
		t.Fatalf("List = %v, %v; want the one ref", refs, err)
	}
	err = ro.WriteBlob(context.Background(), v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256",
		Hex: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}, Size: 3}, strings.NewReader("foo"))
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("WriteBlob on the read-only store = %v, want EROFS", err)
	}
}
