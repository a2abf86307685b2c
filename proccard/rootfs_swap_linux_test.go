package proccard

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDirSizeNeverFollowsSwappedSymlink: a running container swaps a directory of its upper
// dir with a symlink to a host dir, in a renameat2(RENAME_EXCHANGE) loop, while a card
// measures the upper dir. The walk went by path names: a name listed as a directory and read
// once it was the symlink led it to the host, and inspect gave a host file of 1 GiB as the
// container's UpperSize (the race of CVE-2018-15664). Nothing of the host dir is counted.
func TestDirSizeNeverFollowsSwappedSymlink(t *testing.T) {
	upper, host := t.TempDir(), t.TempDir()
	const hostSize = 1 << 40 // sparse: no room taken
	if err := os.Truncate(mustCreate(t, filepath.Join(host, "big")), hostSize); err != nil {
		t.Fatal(err)
	}
	d, l := filepath.Join(upper, "d"), filepath.Join(upper, "l")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, l); err != nil {
		t.Fatal(err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, l, unix.RENAME_EXCHANGE); err != nil {
		t.Skipf("skipping: renameat2 RENAME_EXCHANGE: %v", err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, l, unix.RENAME_EXCHANGE)
			}
		}
	}()
	defer wg.Wait()
	defer close(stop)
	for i := range 2000 {
		total, _, _ := dirSize(upper, time.Now().Add(time.Minute))
		if total >= hostSize {
			t.Fatalf("dirSize, walk %d, counted %d bytes: the host dir's file", i, total)
		}
	}
}

// mustCreate creates the empty file name and returns its name.
func mustCreate(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestDirSizeDeepTree: a tree nested deeper than maxSizeDepth is measured down to that depth,
// a descriptor a level, and said to be partial; hard links count once.
func TestDirSizeDeepTree(t *testing.T) {
	top := t.TempDir()
	p := top
	for range maxSizeDepth + 10 {
		p = filepath.Join(p, "d")
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "deep"), []byte("deep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "a"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(top, "a"), filepath.Join(top, "d", "b")); err != nil {
		t.Fatal(err)
	}
	total, partial, err := dirSize(top, time.Now().Add(time.Minute))
	if total != 3 || !partial || err != nil {
		t.Errorf("dirSize(a tree %d deep) = %d, %v, %v; want 3, partial", maxSizeDepth+10, total, partial, err)
	}
}
