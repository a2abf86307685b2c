package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSaveOutputThroughLinks: save -o writes where the path leads, as tar -f and a shell's >
// do. The link is never replaced: -o /dev/stdout turned the host's /dev/stdout symlink into a
// file of 3.5 MB, and -o link.tar replaced link.tar and left its target stale.
func TestSaveOutputThroughLinks(t *testing.T) {
	const archive = "the archive"
	write := func(w io.Writer) error {
		_, err := io.WriteString(w, archive)
		return err
	}
	isLink := func(t *testing.T, p, to string) {
		t.Helper()
		got, err := os.Readlink(p)
		if err != nil || got != to {
			t.Errorf("%s after the save: readlink = %q, %v; want the link to %s kept", p, got, err, to)
		}
	}
	holds := func(t *testing.T, p, want string) {
		t.Helper()
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s holds %q, %v; want %q", p, b, err, want)
		}
	}

	t.Run("symlink to a regular file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		real := filepath.Join(dir, "data", "real.tar")
		if err := os.WriteFile(real, []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.tar")
		if err := os.Symlink("data/real.tar", link); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(link, write); err != nil {
			t.Fatal(err)
		}
		isLink(t, link, "data/real.tar")
		holds(t, real, archive)
		onlyEntries(t, dir, "data", "link.tar")
		onlyEntries(t, filepath.Join(dir, "data"), "real.tar")
	})
	t.Run("symlink chain", func(t *testing.T) {
		dir := t.TempDir()
		real := filepath.Join(dir, "real.tar")
		if err := os.WriteFile(real, []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("real.tar", filepath.Join(dir, "b")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, "b"), filepath.Join(dir, "a")); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(filepath.Join(dir, "a"), write); err != nil {
			t.Fatal(err)
		}
		isLink(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"))
		isLink(t, filepath.Join(dir, "b"), "real.tar")
		holds(t, real, archive)
		onlyEntries(t, dir, "a", "b", "real.tar")
	})
	t.Run("dangling symlink", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "link.tar")
		if err := os.Symlink("new.tar", link); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(link, write); err != nil {
			t.Fatal(err)
		}
		isLink(t, link, "new.tar")
		holds(t, filepath.Join(dir, "new.tar"), archive)
		onlyEntries(t, dir, "link.tar", "new.tar")
	})
	t.Run("failed save through a link", func(t *testing.T) {
		// The target keeps its old content, a dangling link's target is not left
		// created, and no temp file stays beside either.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "real.tar"), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, l := range [][2]string{{"link.tar", "real.tar"}, {"dangling.tar", "new.tar"}} {
			if err := os.Symlink(l[1], filepath.Join(dir, l[0])); err != nil {
				t.Fatal(err)
			}
		}
		fail := func(w io.Writer) error {
			io.WriteString(w, "half an archive")
			return errors.New("damaged blob")
		}
		for _, l := range []string{"link.tar", "dangling.tar"} {
			if err := writeFileAtomic(filepath.Join(dir, l), fail); err == nil || !strings.Contains(err.Error(), "damaged blob") {
				t.Errorf("failed save -o %s = %v", l, err)
			}
		}
		holds(t, filepath.Join(dir, "real.tar"), "old")
		isLink(t, filepath.Join(dir, "link.tar"), "real.tar")
		isLink(t, filepath.Join(dir, "dangling.tar"), "new.tar")
		onlyEntries(t, dir, "dangling.tar", "link.tar", "real.tar")
	})
	t.Run("symlink to a directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink(t.TempDir(), filepath.Join(dir, "d")); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(filepath.Join(dir, "d"), write); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("save -o link-to-dir = %v, want is a directory", err)
		}
	})
	t.Run("symlink to a FIFO", func(t *testing.T) {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "fifo")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.tar")
		if err := os.Symlink("fifo", link); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		opened := make(chan struct{})
		go func() {
			f, err := os.OpenFile(fifo, os.O_RDWR, 0) // opens at once, a reader
			close(opened)
			if err != nil {
				got <- err.Error()
				return
			}
			defer f.Close()
			b := make([]byte, len(archive))
			_, err = io.ReadFull(f, b)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(b)
		}()
		<-opened
		if err := writeFileAtomic(link, write); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != archive {
			t.Errorf("the FIFO's reader read %q", s)
		}
		isLink(t, link, "fifo")
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO after the save: %v, %v", fi, err)
		}
		onlyEntries(t, dir, "fifo", "link.tar")
	})
	t.Run("symlink to /dev/null", func(t *testing.T) {
		dir := t.TempDir()
		link := filepath.Join(dir, "null.tar")
		if err := os.Symlink("/dev/null", link); err != nil {
			t.Fatal(err)
		}
		before, err := os.Lstat("/dev/null")
		if err != nil {
			t.Skip("no /dev/null")
		}
		if err := writeFileAtomic(link, write); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic("/dev/null", write); err != nil {
			t.Fatal(err)
		}
		if after, err := os.Lstat("/dev/null"); err != nil || !os.SameFile(before, after) || after.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("/dev/null after the save: %v, %v", after, err)
		}
		isLink(t, link, "/dev/null")
		onlyEntries(t, dir, "null.tar")
	})
	t.Run("/proc/self/fd of a pipe", func(t *testing.T) {
		// /dev/stdout is /dev/stdout -> /proc/self/fd/1 -> pipe:[N]: the link chain
		// through /proc names an open file, written in place. A link in the test's own
		// dir stands for /dev/stdout, which must not be touched by a test.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		dir := t.TempDir()
		stdout := filepath.Join(dir, "stdout")
		fdPath := "/proc/self/fd/" + strconv.Itoa(int(w.Fd()))
		if err := os.Symlink(fdPath, stdout); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			b := make([]byte, len(archive)*2)
			n, _ := io.ReadFull(r, b)
			got <- string(b[:n])
		}()
		if err := writeFileAtomic(stdout, write); err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(fdPath, write); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != archive+archive {
			t.Errorf("the pipe carried %q", s)
		}
		isLink(t, stdout, fdPath)
		onlyEntries(t, dir, "stdout")
	})
	t.Run("/proc/self/fd of a file", func(t *testing.T) {
		// save -o /dev/stdout > out.tar: written into the open file, not renamed over its
		// name (the shell's other writes to it would go to a file no name leads to).
		dir := t.TempDir()
		out := filepath.Join(dir, "out.tar")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		before, _ := f.Stat()
		if err := writeFileAtomic("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), write); err != nil {
			t.Fatal(err)
		}
		holds(t, out, archive)
		if after, err := os.Lstat(out); err != nil || !os.SameFile(before, after) {
			t.Errorf("%s was replaced, not written: %v", out, err)
		}
		onlyEntries(t, dir, "out.tar")
	})
}

// TestSaveDamagedCLI: save of an image with a blob damaged in the store exits non-zero with
// one line naming the image, for every format, and leaves the file it was to replace as it
// was (and no temp file beside it); it wrote the damaged blob and exited 0.
func TestSaveDamagedCLI(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(root, "oci", "blobs", "sha256")
	ents, err := os.ReadDir(blobs)
	if err != nil {
		t.Fatal(err)
	}
	var layer string
	var size int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Size() > size {
			layer, size = filepath.Join(blobs, e.Name()), fi.Size()
		}
	}
	b, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	for _, format := range []string{"docker-archive", "oci-archive", "oci-dir"} {
		if err := os.WriteFile(layer, b, 0o644); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "out.tar")
		if format != "oci-dir" {
			if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := strata(t, root, nil, "save", "--format", format, "-o", out, "busybox:1.38.0-musl")
		if err == nil || !strings.Contains(err.Error(), "busybox:1.38.0-musl: the stored image is damaged") || strings.Contains(err.Error(), "\n") {
			t.Errorf("save --format %s of a damaged image = %v, want one line saying it is damaged", format, err)
		}
		if format == "oci-dir" {
			onlyEntries(t, dir)
			continue
		}
		holds, _ := os.ReadFile(out)
		if string(holds) != "old" {
			t.Errorf("save --format %s of a damaged image left %.20q in the file", format, holds)
		}
		onlyEntries(t, dir, "out.tar")
	}
}
