package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
)

// TestSaveStateOnFullDisk: a kept container's exit is recorded on a disk its command filled:
// state.json, replaced by a new file, takes the room its reserve kept. It was lost (ps showed
// the container Created or Exited (255)). A --rm container keeps no reserve.
func TestSaveStateOnFullDisk(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })

	kept := &Container{ID: strings.Repeat("a", 64), Dir: filepath.Join(mnt, "kept")}
	removed := &Container{ID: strings.Repeat("b", 64), Dir: filepath.Join(mnt, "removed"), Config: Config{AutoRemove: true}}
	for _, c := range []*Container{kept, removed} {
		if err := os.Mkdir(c.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		c.State = State{Status: StatusRunning, Pid: 42}
		if err := c.saveState(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Lstat(filepath.Join(removed.Dir, stateReserve)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a --rm container has a state reserve: %v", err)
	}

	// The container fills the disk.
	f, err := os.Create(filepath.Join(mnt, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			if !noSpace(err) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	kept.State = State{Status: StatusExited, ExitCode: 3}
	if err := kept.saveState(); err != nil {
		t.Fatalf("saving the exit on a full disk: %v", err)
	}
	var st State
	if err := readJSON(filepath.Join(kept.Dir, stateFile), &st); err != nil || st.Status != StatusExited || st.ExitCode != 3 {
		t.Errorf("state.json after the exit = %+v, %v; want exited 3", st, err)
	}
}
