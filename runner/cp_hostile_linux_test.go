package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/mount"
	"golang.org/x/sys/unix"
)

// TestCopyRootLayerSymlink: a stopped container whose upper or work dir is a symlink to a
// host dir is not opened for a copy. Its overlay, mounted for cp, followed the symlink: cp
// read the host dir's files out of the container and wrote into that dir, as a start,
// which refuses it (TestStartUpperSymlink), would have.
func TestCopyRootLayerSymlink(t *testing.T) {
	for _, layer := range []string{"upper", "work"} {
		t.Run(layer, func(t *testing.T) {
			s, err := OpenStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c := testContainer(t, s, "", "true")
			host := t.TempDir()
			if err := os.WriteFile(filepath.Join(host, "secret"), []byte("SECRET"), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(c.Dir, layer)
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(host, dir); err != nil {
				t.Fatal(err)
			}
			r, err := OpenCopyRoot(c)
			if err == nil {
				fd, oerr := r.Open("/secret", false)
				if oerr == nil {
					unix.Close(fd)
				}
				r.Close()
				t.Errorf("OpenCopyRoot with %s -> %s succeeded (/secret opened: %v)", layer, host, oerr == nil)
			}
			ents, err := os.ReadDir(host)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if !slices.Equal(names, []string{"secret"}) {
				t.Errorf("the host dir behind %s holds %v after the copy, want only its secret", layer, names)
			}
		})
	}
}

// TestDiffUpperSymlink: diff of a container whose upper dir is a symlink fails, naming it.
// The walk, which follows no symlink, stopped at it and listed no change: diff printed
// nothing and exited 0, as for a container that changed nothing.
func TestDiffUpperSymlink(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "true")
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "added"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	upper := filepath.Join(c.Dir, "upper")
	if err := os.Remove(upper); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, upper); err != nil {
		t.Fatal(err)
	}
	if changes, err := Diff(c); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("Diff with upper -> %s = %v, %v; want an error naming the symlink", host, changes, err)
	}
}

// TestRemoveMountInDir: a mount in a container's dir, outside its rootfs (a host dir bound on
// its volume's or upper's subdir: a hand edit, a tool that crashed), is detached by rm, not
// emptied: rm deleted the host dir's files through it, then failed on the mount point with
// "device or resource busy".
func TestRemoveMountInDir(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	for _, sub := range []string{"volumes/0", "upper/etc"} {
		t.Run(sub, func(t *testing.T) {
			s, c := newStoreWith(t, "xx")
			target := filepath.Join(c.Dir, sub)
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			host := t.TempDir()
			if err := os.MkdirAll(filepath.Join(host, "deep"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"keep", "deep/keep"} {
				if err := os.WriteFile(filepath.Join(host, f), []byte("host"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := unix.Mount(host, target, "", unix.MS_BIND, ""); err != nil {
				t.Skipf("skipping: bind mount: %v", err)
			}
			t.Cleanup(func() { _ = mount.UnmountAll(filepath.Dir(c.Dir)) })
			if err := s.Remove(context.Background(), c, true); err != nil {
				t.Errorf("Remove = %v", err)
			}
			for _, f := range []string{"keep", "deep/keep"} {
				if b, err := os.ReadFile(filepath.Join(host, f)); err != nil || string(b) != "host" {
					t.Errorf("the host file %s behind the mount: %q, %v; want it untouched", f, b, err)
				}
			}
			if _, err := os.Lstat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("container dir after Remove: %v, want gone", err)
			}
		})
	}
}

// TestSweepCreatingMount: what a killed create left aside (creatingPrefix) is removed
// without deleting through a mount in it, as a container dir is (TestRemoveMountInDir).
func TestSweepCreatingMount(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	name := creatingPrefix + strings.Repeat("c", 64)
	target := filepath.Join(s.Dir(), name, "upper")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "keep"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(host, target, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("skipping: bind mount: %v", err)
	}
	t.Cleanup(func() { _ = mount.UnmountAll(s.Dir()) })
	if err := s.sweepCreating([]string{name}); err != nil {
		t.Errorf("sweepCreating = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(host, "keep")); err != nil || string(b) != "host" {
		t.Errorf("the host file behind the mount: %q, %v; want it untouched", b, err)
	}
	if _, err := os.Lstat(filepath.Join(s.Dir(), name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dir left aside after the sweep: %v, want gone", err)
	}
}

// exchangeLoop swaps the names a and b in dir (renameat2 RENAME_EXCHANGE) until stop is
// closed, as a running container does in its writable layer; done is closed when it stops.
func exchangeLoop(t *testing.T, dir, a, b string) (stop func()) {
	t.Helper()
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if err := unix.Renameat2(d, a, d, b, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("renameat2 %s %s: %v", a, b, err)
				return
			}
		}
	}()
	stop = func() {
		close(quit)
		<-done
		unix.Close(d)
	}
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			stop()
		}
	})
	return stop
}

// TestDiffSwappedDir: a running container swaps a directory of its writable layer for a
// symlink to a host dir, over and over; diff never lists the host dir's files. Its walk went
// by path names: a directory listed as one and swapped before the walk opened it was followed
// to the host, whose files diff listed as the container's.
func TestDiffSwappedDir(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := testContainer(t, s, "", "true")
	host := t.TempDir()
	const canary = "host-canary-4f1d"
	if err := os.WriteFile(filepath.Join(host, canary), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	upper := filepath.Join(c.Dir, "upper")
	if err := os.MkdirAll(filepath.Join(upper, "sw", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(upper, "swl")); err != nil {
		t.Fatal(err)
	}
	stop := exchangeLoop(t, upper, "sw", "swl")
	for i := 0; i < 2000; i++ {
		changes, err := Diff(c)
		if err != nil {
			continue // a race may fail a diff; it must not list the host's files
		}
		for _, ch := range changes {
			if strings.Contains(ch.Path, canary) {
				stop()
				t.Fatalf("diff %d listed the host's file: %v", i, changes)
			}
		}
	}
}
