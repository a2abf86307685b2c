package snapshotter

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// TestRemoveDeepTree: a container nests directories deeper than the process may open files
// (os.RemoveAll holds one per level); Remove must still delete them, and never follow the
// symlinks among them.
func TestRemoveDeepTree(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	unpack(t, s, l)
	cdir := filepath.Join(t.TempDir(), "c")
	if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{l.diffID}, false); err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	outside := t.TempDir()
	sentinel := filepath.Join(outside, "sentinel")
	if err := os.WriteFile(sentinel, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	// What the container's processes can make with mkdir and chdir: 3,000 levels, with a file,
	// a symlink out and a fifo every 500.
	fd, err := unix.Open(filepath.Join(cdir, rootfsDir), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if i%500 == 0 {
			if err := unix.Symlinkat(outside, fd, "out"); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mknodat(fd, "fifo", unix.S_IFIFO|0o644, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	unix.Close(fd)

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 1024
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	err = s.Remove(t.Context(), cdir)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatalf("Remove(3,000 levels, 1,024 files open at most) = %v", err)
	}
	wantAbsent(t, filepath.Join(cdir, rootfsDir))
	wantContent(t, sentinel, "keep")
}
