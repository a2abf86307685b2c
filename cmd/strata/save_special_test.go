package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair and returns its replica side, a terminal for the test
// to hand the CLI as stdin or stdout.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	_, pts := openPTYPair(t)
	return pts
}

// strataIO runs the CLI in-process on root with the given stdin and stdout.
func strataIO(root string, stdin io.Reader, stdout io.Writer, args ...string) error {
	cmd := newRootCmd(&globals{})
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append([]string{"--root", root}, args...))
	return cmd.ExecuteContext(context.Background())
}

// TestSaveLoadTerminal: an archive is never written to, or read from, a terminal: docker
// refuses ("cowardly refusing to save to a terminal"), and a tar on a terminal is garbage on
// the screen or a load that waits for typing.
func TestSaveLoadTerminal(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	tty := openPTY(t)
	err := strataIO(root, bytes.NewReader(nil), tty, "save", "busybox:1.38.0-musl")
	if err == nil || !strings.Contains(err.Error(), "terminal") {
		t.Errorf("save to a terminal = %v, want a refusal naming the terminal", err)
	}
	err = strataIO(root, bytes.NewReader(nil), io.Discard, "save", "-o", tty.Name(), "busybox:1.38.0-musl")
	if err == nil || !strings.Contains(err.Error(), "terminal") {
		t.Errorf("save -o %s = %v, want a refusal naming the terminal", tty.Name(), err)
	}
	var out bytes.Buffer
	err = strataIO(t.TempDir(), tty, &out, "load")
	if err == nil || !strings.Contains(err.Error(), "terminal") {
		t.Errorf("load from a terminal = %v, want a refusal naming the terminal", err)
	}
}

// TestSaveSpecialOutputs: save -o to what is not a plain new file: a full device, a FIFO
// with and without a reader, symlinks. A failure exits non-zero and leaves no file under the
// name nor a temp file beside it; nothing is written through a symlink.
func TestSaveSpecialOutputs(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	save := func(out string) error {
		_, err := strata(t, root, nil, "save", "-o", out, "busybox:1.38.0-musl")
		return err
	}

	t.Run("/dev/full", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full")
		}
		err := save("/dev/full")
		if err == nil || !strings.Contains(err.Error(), "no space left") || strings.Contains(err.Error(), "\n") {
			t.Errorf("save -o /dev/full = %v, want one line saying no space left", err)
		}
	})
	t.Run("full filesystem", func(t *testing.T) {
		dir := t.TempDir()
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
			t.Skipf("mounting a small tmpfs: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
		err := save(filepath.Join(dir, "x.tar"))
		if err == nil || !strings.Contains(err.Error(), "no space left") || strings.Contains(err.Error(), "\n") {
			t.Errorf("save -o FULL/x.tar = %v, want one line saying no space left", err)
		}
		onlyEntries(t, dir)
	})
	t.Run("symlink to /dev/full", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full")
		}
		dir := t.TempDir()
		link := filepath.Join(dir, "x.tar")
		if err := os.Symlink("/dev/full", link); err != nil {
			t.Fatal(err)
		}
		if err := save(link); err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Errorf("save -o link-to-/dev/full = %v, want no space left", err)
		}
		onlyEntries(t, dir, "x.tar")
	})
	t.Run("fifo without a reader", func(t *testing.T) {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "x.tar")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := save(fifo); err == nil {
			t.Error("save -o FIFO without a reader succeeded")
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO was replaced: %v %v", fi, err)
		}
		onlyEntries(t, dir, "x.tar")
	})
	t.Run("fifo with a reader", func(t *testing.T) {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "x.tar")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		// The reader opens first (a writer opening without waiting needs one) and reads
		// slowly, so the writer meets a full pipe.
		type result struct {
			b   []byte
			err error
		}
		got := make(chan result, 1)
		opened := make(chan struct{})
		go func() {
			f, err := os.OpenFile(fifo, os.O_RDWR, 0) // O_RDWR: opens at once, a reader
			close(opened)
			if err != nil {
				got <- result{nil, err}
				return
			}
			defer f.Close()
			// The writer's close does not end the stream for an O_RDWR reader: read
			// through the tar to its end-of-archive blocks.
			var b bytes.Buffer
			tr := tar.NewReader(io.TeeReader(f, &b))
			for {
				_, err := tr.Next()
				if err == io.EOF {
					got <- result{b.Bytes(), nil}
					return
				}
				if err != nil {
					got <- result{nil, err}
					return
				}
				time.Sleep(time.Millisecond) // slowly: the writer meets a full pipe
			}
		}()
		<-opened
		if err := save(fifo); err != nil {
			t.Fatalf("save -o FIFO = %v", err)
		}
		r := <-got
		if r.err != nil {
			t.Fatal(r.err)
		}
		dst := filepath.Join(t.TempDir(), "copy.tar")
		if err := os.WriteFile(dst, r.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := strata(t, t.TempDir(), nil, "load", "-i", dst); err != nil || !strings.Contains(out, "busybox") {
			t.Errorf("load of what the FIFO carried = %q, %v", out, err)
		}
	})
	t.Run("symlink to a file elsewhere", func(t *testing.T) {
		// Written where the link leads, as tar -f and > write: the link stays a link.
		dir, elsewhere := t.TempDir(), t.TempDir()
		target := filepath.Join(elsewhere, "precious")
		if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "x.tar")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := save(link); err != nil {
			t.Fatalf("save -o symlink = %v", err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s after save = %v, %v; want the link kept", link, fi, err)
		}
		if out, err := strata(t, t.TempDir(), nil, "load", "-i", target); err != nil || !strings.Contains(out, "busybox") {
			t.Errorf("load of the link's target = %q, %v", out, err)
		}
		onlyEntries(t, dir, "x.tar")
		onlyEntries(t, elsewhere, "precious")
	})
}

// onlyEntries fails unless dir holds exactly names: a failed save leaves no temp file.
func onlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

// TestSaveOutputSwapped: save -o into a directory another user can write, who swaps names
// while the archive is written. The temp file renamed away and a symlink to a host file put
// under its name: the save chmodded the host file 0644 by that name (a world-readable
// /etc/shadow). A FIFO stat'ed, then swapped for a symlink before it was opened: the save
// wrote the archive over the host file. Both fail now, touching nothing outside.
func TestSaveOutputSwapped(t *testing.T) {
	setup := func(t *testing.T) (dir, precious string) {
		dir, outside := t.TempDir(), t.TempDir()
		precious = filepath.Join(outside, "shadow")
		if err := os.WriteFile(precious, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir, precious
	}
	untouched := func(t *testing.T, precious string) {
		t.Helper()
		fi, err := os.Stat(precious)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v after the save, want 0600", precious, fi.Mode().Perm())
		}
		if b, _ := os.ReadFile(precious); string(b) != "secret" {
			t.Errorf("%s holds %.20q after the save", precious, b)
		}
	}

	t.Run("temp file swapped for a symlink", func(t *testing.T) {
		// A temp file made without a name (O_TMPFILE) has none to swap while it is
		// written: the named one, made where the filesystem has no O_TMPFILE, is tested.
		unnamedTemp = false
		t.Cleanup(func() { unnamedTemp = true })
		dir, precious := setup(t)
		err := writeFileAtomic(filepath.Join(dir, "x.tar"), func(w io.Writer) error {
			tmp := w.(*os.File).Name()
			if err := os.Rename(tmp, filepath.Join(dir, "moved")); err != nil {
				return err
			}
			if err := os.Symlink(precious, tmp); err != nil {
				return err
			}
			_, err := io.WriteString(w, "archive")
			return err
		})
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("writeFileAtomic with its temp file swapped = %v, want one line", err)
		}
		untouched(t, precious)
	})
	t.Run("fifo swapped for a symlink", func(t *testing.T) {
		dir, precious := setup(t)
		out := filepath.Join(dir, "x.tar")
		if err := unix.Mkfifo(out, 0o600); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(out); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(precious, out); err != nil {
			t.Fatal(err)
		}
		err = writeSpecial(out, fi, func(w io.Writer) error {
			_, err := io.WriteString(w, "archive")
			return err
		})
		if err == nil {
			t.Error("writeSpecial of a FIFO swapped for a symlink succeeded")
		}
		untouched(t, precious)
	})
}

// TestLoadFromTerminalPath: load -i naming a terminal (/dev/tty, /dev/pts/N) is refused as
// load from a terminal stdin is: it read the terminal, waiting for typing, for good.
func TestLoadFromTerminalPath(t *testing.T) {
	tty := openPTY(t)
	root := t.TempDir()
	done := make(chan error, 1)
	go func() {
		done <- strataIO(root, bytes.NewReader(nil), io.Discard, "load", "-i", tty.Name())
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "terminal") || strings.Contains(err.Error(), "\n") {
			t.Errorf("load -i %s = %v, want one line refusing a terminal", tty.Name(), err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("load -i %s still reading after 20 s", tty.Name())
	}
}
