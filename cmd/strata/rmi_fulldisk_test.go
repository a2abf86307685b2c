package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestRmiOnFullDiskAfterLoad: a store that load filled (load makes no layer store and no
// container store) is freed by rmi and image prune even when the disk has no block or inode
// left to make those dirs with: they failed 'opening the layer store: … mkdir …/snapshots: no
// space left on device' and 'opening container store: …'.
func TestRmiOnFullDiskAfterLoad(t *testing.T) {
	disk := testutil.SmallDisk(t, "size=16m,nr_inodes=400")
	root := filepath.Join(disk, "root")
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"snapshots", "containers"} {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.FillDisk(t, disk)
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(disk, fmt.Sprintf("inode%d", i)))
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		f.Close()
	}
	if _, err := strata(t, root, nil, "rmi", "busybox:1.38.0-musl"); err != nil {
		t.Errorf("rmi on a full disk = %v; want it to free the image", err)
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || out != "" {
		t.Errorf("images -q after rmi = %q, %v; want none", out, err)
	}
}
