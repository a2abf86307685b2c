package snapshotter

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestProbeMarkerNotAFile: a .overlay-ok that is a FIFO blocked New's read of it, and so
// every strata command that opened the layer store, for good (timeout's SIGTERM did not end
// it); one that is a symlink was read where it pointed. Neither is read: the probe runs and
// its marker replaces them, and the file a symlink named is left as it was.
func TestProbeMarkerNotAFile(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	outside := filepath.Join(t.TempDir(), "outside")
	for _, kind := range []string{"fifo", "symlink"} {
		t.Run(kind, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "snapshots")
			if err := os.Mkdir(root, 0o700); err != nil {
				t.Fatal(err)
			}
			var st unix.Stat_t
			if err := unix.Stat(root, &st); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(root, probeMarker)
			var err error
			switch kind {
			case "fifo":
				err = unix.Mkfifo(marker, 0o600)
			case "symlink":
				// What the marker would hold: followed, it skipped the probe.
				if err := os.WriteFile(outside, fmt.Appendf(nil, "dev=%d\n", st.Dev), 0o644); err != nil {
					t.Fatal(err)
				}
				err = os.Symlink(outside, marker)
			}
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := New(root, Options{Driver: Overlay})
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("New with %s a %s = %v", probeMarker, kind, err)
				}
			case <-time.After(10 * time.Second):
				// Unblock the open so the test binary can end.
				if f, err := os.OpenFile(marker, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
				t.Fatalf("New with %s a %s still blocked after 10s", probeMarker, kind)
			}
			if fi, err := os.Lstat(marker); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("%s after New = %v, %v; want the probe's marker, a regular file", probeMarker, fi, err)
			}
			if kind == "symlink" {
				if fi, err := os.Lstat(outside); err != nil || fi.Size() == 0 {
					t.Errorf("the symlink's target after New = %v, %v; want it left as it was", fi, err)
				}
			}
		})
	}
}
