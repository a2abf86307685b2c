package cache

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/lockfile"
)

// TestLockFileNotAFile: a FIFO or symlink put at index.json.lock, gc.lock or a blob's ingest
// lock must fail the command at once with one line naming it. With gofrs/flock's O_RDONLY
// open, a FIFO at index.json.lock or gc.lock blocked Tag, WriteImage and Prune in open(2)
// forever, their context unheard.
func TestLockFileNotAFile(t *testing.T) {
	img := imageOf(t, seededLayers(t, 1, 1, 1024)...)
	desc := layerDescs(t, img)[0]
	for _, lock := range []string{indexLockFile, gcLockFile, filepath.Join(ingestDir, desc.Digest.Hex+".lock")} {
		for _, kind := range []string{"fifo", "symlink"} {
			t.Run(lock+"/"+kind, func(t *testing.T) {
				dir := t.TempDir()
				s := openStore(t, dir)
				path := filepath.Join(dir, lock)
				outside := filepath.Join(t.TempDir(), "elsewhere")
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				var err error
				if kind == "fifo" {
					err = unix.Mkfifo(path, 0o600)
				} else {
					err = os.Symlink(outside, path)
				}
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				done := make(chan error, 1)
				go func() {
					_, err := s.WriteImage(ctx, "example.com/a:1", img, WriteOptions{})
					if err == nil {
						_, _, err = s.Prune(ctx, false)
					}
					done <- err
				}()
				select {
				case err := <-done:
					if !errors.Is(err, lockfile.ErrNotLockFile) {
						t.Errorf("WriteImage/Prune with a %s at %s = %v, want ErrNotLockFile", kind, lock, err)
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("WriteImage/Prune with a %s at %s still blocked after 30s", kind, lock)
				}
				if _, err := os.Lstat(outside); err == nil {
					t.Errorf("locking created %s through the symlink", outside)
				}
			})
		}
	}
}
