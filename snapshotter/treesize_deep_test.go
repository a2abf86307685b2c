package snapshotter

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/rmtree"
	"golang.org/x/sys/unix"
)

// deepChain makes a chain of depth directories named d under a fresh dir, as a container's
// `while :; do mkdir d; cd d; done` does, with a file of 100 bytes every 500 levels and at the
// bottom, plus a hard link at the bottom to the file at the top; it returns the dir and
// the file bytes, the hard link once. The chain is made and later removed by handles.
func deepChain(t *testing.T, depth int) (string, int64) {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := rmtree.Remove(filepath.Join(dir, "d")); err != nil {
			t.Errorf("removing the deep chain: %v", err)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "top"), make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	want := int64(100)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	top, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(top)
	for i := 1; i <= depth; i++ {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			unix.Close(fd)
			t.Fatalf("level %d: %v", i, err)
		}
		next, err := rmtree.Down(fd, "d")
		if err != nil {
			unix.Close(fd)
			t.Fatalf("level %d: %v", i, err)
		}
		fd = next
		if i%500 == 0 || i == depth {
			f, err := unix.Openat(fd, "f", unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
			if err != nil {
				unix.Close(fd)
				t.Fatal(err)
			}
			_, err = unix.Write(f, make([]byte, 100))
			unix.Close(f)
			if err != nil {
				unix.Close(fd)
				t.Fatal(err)
			}
			want += 100
		}
	}
	err = unix.Linkat(top, "top", fd, "link", 0)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	return dir, want
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestSizeDeeperThanPathMax: a container that nested directories past PATH_MAX (3,000 levels
// of d/, 6,000 bytes of path) had FilesSize and DirSize fail with ENAMETOOLONG, and with them
// ps -s, inspect -s, system df and container prune's reclaimed size. They walk by directory
// handles now, at any depth, with the open-file limit at a common 1,024, leaking none; DirSize
// agrees with du, which walks by handles too.
func TestSizeDeeperThanPathMax(t *testing.T) {
	dir, want := deepChain(t, 3000)
	fds := openFDs(t)
	var files, disk int64
	var ferr, derr error
	withFewFiles(t, func() {
		files, ferr = FilesSize(dir)
		disk, derr = DirSize(dir)
	})
	if ferr != nil || files != want {
		t.Errorf("FilesSize(3,000 levels) = %d, %v; want %d", files, ferr, want)
	}
	if derr != nil || disk < 3000*512 {
		t.Errorf("DirSize(3,000 levels) = %d, %v; want at least the blocks of 3,000 directories", disk, derr)
	}
	if n := openFDs(t); n != fds {
		t.Errorf("%d files open after measuring, want %d as before", n, fds)
	}
	if _, err := exec.LookPath("du"); err != nil {
		return
	}
	out, err := exec.Command("du", "-s", "-B1", dir).Output()
	if err != nil {
		t.Logf("du: %v", err)
		return
	}
	du, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if derr == nil && disk != du {
		t.Errorf("DirSize = %d, du -s -B1 = %d", disk, du)
	}
}

// TestSize100kLevels: a tree 100,000 levels deep is measured with the open-file limit at
// 1,024: a walk that kept a handle or a stack frame per level would run out of either.
func TestSize100kLevels(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 100,000 directories")
	}
	dir, want := deepChain(t, 100000)
	var files int64
	var err error
	withFewFiles(t, func() { files, err = FilesSize(dir) })
	if err != nil || files != want {
		t.Errorf("FilesSize(100,000 levels) = %d, %v; want %d", files, err, want)
	}
	var disk int64
	withFewFiles(t, func() { disk, err = DirSize(dir) })
	if err != nil || disk < 100000*512 {
		t.Errorf("DirSize(100,000 levels) = %d, %v; want at least the blocks of 100,000 directories", disk, err)
	}
}
