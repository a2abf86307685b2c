package snapshotter

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
)

// TestFilesSize checks docker's SizeRw measure: file sizes, directories none, a hard link
// once, and a file or directory that goes while the tree is walked (a running container's
// writes) skipped as docker's directory.Size skips it, where the whole measure failed with
// ENOENT and ps -s, inspect --size and system df showed the container as 0B.
func TestFilesSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if n, err := FilesSize(dir); err != nil || n != 1000 {
		t.Fatalf("FilesSize = %d, %v; want 1000 (a hard link once, a directory none)", n, err)
	}
	if _, err := FilesSize(filepath.Join(dir, "nosuch")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FilesSize of a missing dir: %v, want not exist", err)
	}

	// Churn: directories with files made and removed while FilesSize walks.
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			d := filepath.Join(dir, "churn", strconv.Itoa(i%8), "x", "y")
			_ = os.MkdirAll(d, 0o755)
			for j := 0; j < 8; j++ {
				_ = os.WriteFile(filepath.Join(d, strconv.Itoa(j)), []byte("z"), 0o644)
			}
			if i%8 == 7 {
				_ = os.RemoveAll(filepath.Join(dir, "churn"))
			}
		}
	}()
	defer func() { stop.Store(true); <-done }()
	for i := 0; i < 3000; i++ {
		n, err := FilesSize(dir)
		if err != nil {
			t.Fatalf("FilesSize while entries come and go (walk %d): %v", i, err)
		}
		if n < 1000 {
			t.Fatalf("FilesSize while entries come and go = %d, want at least the stable 1000", n)
		}
	}
}
