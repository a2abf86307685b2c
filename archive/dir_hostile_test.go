package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/cache"
)

// hostileLayout saves alpine as an OCI layout directory and returns it with its config blob
// path, for tests to break.
func hostileLayout(t *testing.T) (dir, cfgPath string) {
	t.Helper()
	src := newStore(t)
	ref := put(t, src, "docker.io/library/alpine:3.20.3", alpine(t))
	dir = filepath.Join(t.TempDir(), "layout")
	if err := SaveDir(context.Background(), dir, src, []cache.Ref{ref}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := src.Info(ref)
	if err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, "blobs", "sha256", info.ID.Hex)
}

// TestLoadDirHostileShapes: a layout directory whose files are not the regular files a
// layout has. LoadDir must refuse each without reading through it, hanging on it or storing
// anything.
func TestLoadDirHostileShapes(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		breakIt func(t *testing.T, dir, cfg string)
		want    error
	}{
		{"blobs/sha256 a symlink to a copy outside", func(t *testing.T, dir, _ string) {
			blobs := filepath.Join(dir, "blobs", "sha256")
			moved := filepath.Join(outside, "sha256")
			if err := os.Rename(blobs, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, blobs); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafeEntry},
		{"blobs/sha256 a symlink to /etc", func(t *testing.T, dir, _ string) {
			blobs := filepath.Join(dir, "blobs", "sha256")
			if err := os.RemoveAll(blobs); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc", blobs); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"index.json a symlink", func(t *testing.T, dir, _ string) {
			idx := filepath.Join(dir, "index.json")
			moved := filepath.Join(outside, "index.json")
			if err := os.Rename(idx, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, idx); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafeEntry},
		{"config a fifo", func(t *testing.T, _, cfg string) {
			if err := os.Remove(cfg); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(cfg, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafeEntry},
		{"config a directory", func(t *testing.T, _, cfg string) {
			if err := os.Remove(cfg); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(cfg, 0o755); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafeEntry},
		{"index.json a directory", func(t *testing.T, dir, _ string) {
			idx := filepath.Join(dir, "index.json")
			if err := os.Remove(idx); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(idx, 0o755); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafeEntry},
		{"config longer than its descriptor", func(t *testing.T, _, cfg string) {
			if err := os.Truncate(cfg, 10<<30); err != nil {
				t.Fatal(err)
			}
		}, cache.ErrSizeMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := hostileLayout(t)
			tt.breakIt(t, dir, cfg)
			s := newStore(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := LoadDir(ctx, s, dir, LoadOptions{})
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("LoadDir() = %v, want one line wrapping %v", err, tt.want)
			}
			if b := storedBlobs(t, s); len(b) != 0 {
				t.Errorf("store holds %d blobs after a failed load", len(b))
			}
		})
	}
}

// TestEntrySwappedAfterLookup: a layout directory is read in place, so whoever can write it
// can swap a file between the checks of lookup and the read. open must notice instead of
// reading a FIFO (and hanging), a bigger file, or a file outside through a swapped directory.
func TestEntrySwappedAfterLookup(t *testing.T) {
	tests := []struct {
		name string
		swap func(t *testing.T, dir, cfg string)
		want error
	}{
		{"fifo", func(t *testing.T, _, cfg string) {
			if err := os.Remove(cfg); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(cfg, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsafeEntry},
		{"grown", func(t *testing.T, _, cfg string) {
			if err := os.Truncate(cfg, 10<<30); err != nil {
				t.Fatal(err)
			}
		}, cache.ErrSizeMismatch},
		{"symlink to a host file", func(t *testing.T, _, cfg string) {
			if err := os.Remove(cfg); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc/passwd", cfg); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"parent directory swapped for a symlink outside", func(t *testing.T, dir, cfg string) {
			blobs := filepath.Join(dir, "blobs", "sha256")
			moved := filepath.Join(t.TempDir(), "sha256")
			if err := os.Rename(blobs, moved); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(moved, blobs); err != nil {
				t.Fatal(err)
			}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := hostileLayout(t)
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			src := &dirSource{dir: dir, root: root}
			e, err := src.lookup("blobs/sha256/" + filepath.Base(cfg))
			if err != nil {
				t.Fatal(err)
			}
			tt.swap(t, dir, cfg)
			done := make(chan error, 1)
			go func() {
				f, err := e.open()
				if err == nil {
					f.Close()
				}
				done <- err
			}()
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("open of a swapped entry hangs")
			}
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("open() after the swap = %v, want an error (%v)", err, tt.want)
			}
		})
	}
}
