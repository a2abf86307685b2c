package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestMarkStoppedFullDisk: a stop, kill or rm -f marks a container with a restart policy on
// a full disk too, where a restart loop's log may have put it: the mark wrote its word in a
// file, which failed with ENOSPC, and stop, kill and rm -f failed with it.
func TestMarkStoppedFullDisk(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("skipping: no tmpfs: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	c := &Container{Dir: filepath.Join(dir, "c")}
	c.Config.RestartPolicy = RestartPolicy{Name: "always"}
	if err := os.Mkdir(c.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = fill.Write(make([]byte, 4096))
	}
	fill.Close()
	if !noSpace(err) {
		t.Fatalf("filling the tmpfs: %v", err)
	}
	if err := markStopped(c, stoppedByHand); err != nil {
		t.Fatalf("kill's mark on a full disk: %v", err)
	}
	if got := readStopMark(c); got != stoppedByHand {
		t.Errorf("mark after a kill: %v, want stoppedByHand", got)
	}
	if err := markStopped(c, restartCanceled); err != nil {
		t.Fatalf("stop's mark on a full disk: %v", err)
	}
	if got := readStopMark(c); got != restartCanceled {
		t.Errorf("mark after a stop: %v, want restartCanceled", got)
	}
	// A mark an earlier strata wrote in a file is read still.
	os.Remove(filepath.Join(dir, "fill"))
	if err := os.Remove(filepath.Join(c.Dir, stopMarkFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, stopMarkFile), []byte("kill"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readStopMark(c); got != stoppedByHand {
		t.Errorf("a file's kill mark: %v, want stoppedByHand", got)
	}
	clearStopMark(c)
	if got := readStopMark(c); got != notStopped {
		t.Errorf("mark after clearStopMark: %v, want none", got)
	}
}
