package lockfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/testutil"
)

// TestRefusesNonFiles pins that a FIFO, a symlink or a directory at a lock's path fails at once
// with ErrNotLockFile: opened O_RDONLY without O_NONBLOCK, as gofrs/flock opens it, a FIFO
// blocks open(2) until a writer comes, which is never.
func TestRefusesNonFiles(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	for _, tc := range []struct {
		name string
		make func(path string) error
	}{
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o600) }},
		{"symlink to nothing", func(p string) error { return os.Symlink(outside, p) }},
		{"symlink to a file", func(p string) error {
			if err := os.WriteFile(outside, nil, 0o600); err != nil {
				return err
			}
			return os.Symlink(outside, p)
		}},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(outside)
			path := filepath.Join(t.TempDir(), "x.lock")
			if err := tc.make(path); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 2)
			go func() {
				l, err := Wait(context.Background(), path, 0o600, true)
				l.Unlock()
				if _, err2 := Acquire(path, 0o600, false); !errors.Is(err2, ErrNotLockFile) {
					err = fmt.Errorf("Acquire: %v, want ErrNotLockFile", err2)
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotLockFile) {
					t.Errorf("Wait(%s) = %v, want ErrNotLockFile", tc.name, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Wait(%s) still blocked after 5s", tc.name)
			}
			if tc.name == "symlink to nothing" {
				if _, err := os.Lstat(outside); err == nil {
					t.Errorf("Wait created %s through a symlink", outside)
				}
			}
		})
	}
}

func TestExclusiveAndShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	ex, ok, err := TryLock(path, 0o600, true)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	for _, exclusive := range []bool{true, false} {
		if _, ok, err := TryLock(path, 0o600, exclusive); err != nil || ok {
			t.Errorf("TryLock(exclusive=%v) while held = %v, %v, want false", exclusive, ok, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Wait(ctx, path, 0o600, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait while held = %v, want deadline exceeded", err)
	}
	ex.Unlock()
	a, ok, err := TryLock(path, 0o600, false)
	if err != nil || !ok {
		t.Fatalf("shared TryLock = %v, %v", ok, err)
	}
	defer a.Unlock()
	b, ok, err := TryLock(path, 0o600, false)
	if err != nil || !ok {
		t.Fatalf("second shared TryLock = %v, %v", ok, err)
	}
	b.Unlock()
	if _, ok, _ := TryLock(path, 0o600, true); ok {
		t.Error("exclusive TryLock succeeded while a shared lock is held")
	}
}

// TestReadOnlyFilesystem pins that an existing lock file on a read-only mount can be locked
// (open(2) with O_CREAT of an existing file does not need write access), so reading a store
// on read-only media works, and that a missing one fails with EROFS at once.
func TestReadOnlyFilesystem(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "have.lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("remount read-only: %v", err)
	}
	l, err := Wait(context.Background(), filepath.Join(dir, "have.lock"), 0o600, true)
	if err != nil {
		t.Errorf("locking an existing file on a read-only mount: %v", err)
	}
	l.Unlock()
	if _, err := Wait(context.Background(), filepath.Join(dir, "new.lock"), 0o600, true); !errors.Is(err, unix.EROFS) {
		t.Errorf("locking a missing file on a read-only mount = %v, want EROFS", err)
	}
}

// TestAcquireWaits: Acquire blocks while another holds the lock and returns as soon as it is
// released.
func TestAcquireWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	held, ok, err := TryLock(path, 0o600, true)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Acquire(path, 0o600, false)
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Acquire returned while the lock was held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	held.Unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("Acquire = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Acquire still blocked 5s after the lock was released")
	}
}
