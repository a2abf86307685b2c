package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDialAttachNoFollow: an attach socket that is a symlink (to another container's socket,
// or any socket of the host) is not connected to: attach followed it, and `attach c1` showed
// another container's output and sent it c1's input, and rm -f told that monitor to let go of
// its clients.
func TestDialAttachNoFollow(t *testing.T) {
	other := t.TempDir()
	h := newAttachHub()
	if err := h.listen(other); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.finish(other, 0) })
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(other, attachSocket), filepath.Join(dir, attachSocket)); err != nil {
		t.Fatal(err)
	}
	if conn, err := dialAttach(dir); err == nil {
		conn.Close()
		t.Errorf("dialAttach through a symlink to another monitor's socket connected")
	} else if errors.Is(err, unix.ENOENT) {
		t.Errorf("dialAttach through a symlink = %v, want it named as no socket (not ENOENT, \"no socket\")", err)
	}
	// The monitor's own socket is connected to as before.
	conn, err := dialAttach(other)
	if err != nil {
		t.Fatalf("dialAttach of a monitor's socket = %v", err)
	}
	conn.Close()
}
