package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
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
			disk := testutil.SmallDisk(t, "size=8m")
			root := filepath.Join(disk, "root")
			_, host := busyboxToPush(t, "t/bb:1") // for its registry
			if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", host+"/t/bb:1"); err != nil {
				t.Fatal(err)
			}
			if how == "full" {
				testutil.FillDisk(t, disk)
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
