package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("content"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path    string
		flag    int
		wantErr error
	}{
		{file, os.O_RDONLY, nil},
		{link, os.O_RDONLY, nil},
		{link, os.O_RDONLY | NoFollow, ErrNotRegular},
		{fifo, os.O_RDONLY, ErrNotRegular},
		{fifo, os.O_WRONLY | os.O_APPEND, ErrNotRegular}, // with no reader: ENXIO, not a hang
		{dir, os.O_RDONLY, ErrNotRegular},
		{dir, os.O_WRONLY, ErrNotRegular},
		{filepath.Join(dir, "missing"), os.O_RDONLY, os.ErrNotExist},
	} {
		done := make(chan error, 1)
		go func() {
			f, err := Open(tc.path, tc.flag, 0)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				if !(tc.path == fifo && errors.Is(err, unix.ENXIO)) {
					t.Errorf("Open(%s, %#x) = %v, want %v", filepath.Base(tc.path), tc.flag, err, tc.wantErr)
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s, %#x) still blocked after 5s", filepath.Base(tc.path), tc.flag)
		}
	}
}

func TestRead(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(file, os.O_RDONLY, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("Read(limit 10) = %q, %v", b, err)
	}
	if _, err := Read(file, os.O_RDONLY, 9); !errors.Is(err, ErrTooBig) {
		t.Errorf("Read(limit 9) = %v, want ErrTooBig", err)
	}
}
