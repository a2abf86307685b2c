package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestPushFromFullStore: a push reads the store; the registry getting the image is the push
// succeeding. Marking the stored name as the registry's afterwards (for the next pull to be a
// one-request "up to date") writes index.json, which a full disk or a read-only store refuses:
// the push then failed, "tagging …: writing index.json: no space left on device", exit 1, for
// an image the registry had whole. It is a warning now, and the push succeeds.
func TestPushFromFullStore(t *testing.T) {
	for _, how := range []string{"full", "read-only"} {
		t.Run(how, func(t *testing.T) {
			t.Setenv("DOCKER_CONFIG", t.TempDir())
			disk := t.TempDir()
			if err := syscall.Mount("strata-test", disk, "tmpfs", 0, "size=8m"); err != nil {
				t.Skipf("mounting a tmpfs: %v", err)
			}
			t.Cleanup(func() {
				if err := syscall.Unmount(disk, syscall.MNT_DETACH); err != nil {
					t.Errorf("unmounting %s: %v", disk, err)
				}
			})
			root := filepath.Join(disk, "root")
			_, host := busyboxToPush(t, "t/bb:1") // for its registry
			if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", host+"/t/bb:1"); err != nil {
				t.Fatal(err)
			}
			if how == "full" {
				f, err := os.Create(filepath.Join(disk, "fill"))
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 64<<10)
				for len(buf) > 0 {
					if _, err := f.Write(buf); err != nil {
						if !errors.Is(err, syscall.ENOSPC) {
							t.Fatal(err)
						}
						buf = buf[:len(buf)/2]
					}
				}
				f.Close()
			} else if err := syscall.Mount("", disk, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
				t.Fatalf("remounting read-only: %v", err)
			}
			out, err := strata(t, root, nil, "push", host+"/t/bb:1")
			if err != nil || !strings.Contains(out, "digest: sha256:") {
				t.Fatalf("push from a %s store = %q, %v; want it to succeed", how, out, err)
			}
			// The registry has it: another store pulls it.
			if _, err := strata(t, t.TempDir(), nil, "pull", "-q", "--no-unpack", host+"/t/bb:1"); err != nil {
				t.Errorf("pulling what was pushed: %v", err)
			}
		})
	}
}
