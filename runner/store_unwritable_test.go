package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestOpenStoreOnFullDisk: a container store never made, on a disk that cannot take its dir
// (no inode left, read-only), opens as empty: rmi and image prune, which read it to know what
// containers use, are what frees such a disk, and failed 'opening container store: mkdir …:
// no space left on device'. Making a container there still fails.
func TestOpenStoreOnFullDisk(t *testing.T) {
	disk := testutil.SmallDisk(t, "size=1m,nr_inodes=2")
	// The tmpfs root takes one inode; fill the other.
	if err := os.WriteFile(filepath.Join(disk, "fill"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(disk, "containers")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatalf("OpenStore on a disk without inodes = %v; want an empty store", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want none", list, err)
	}
	if _, err := os.Lstat(dir); err == nil {
		t.Fatal("the store's dir was made: the disk had room, the test tests nothing")
	}
	if _, err := s.Create(Config{}); err == nil {
		t.Error("Create on a disk without inodes succeeded")
	}
}
