package copytar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func openPath(t *testing.T, p string) int {
	t.Helper()
	fd, err := unix.Open(p, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func names(t *testing.T, b []byte) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

// TestWriteTree: entries named under the given top name, symlinks archived as they are and
// never followed (one to a directory outside the tree brings nothing of it), hard links as
// links to the first name.
func TestWriteTree(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(outside+"/secret", []byte("s"), 0o600)
	d := t.TempDir()
	os.MkdirAll(d+"/top/sub", 0o755)
	os.WriteFile(d+"/top/sub/f", []byte("hello"), 0o644)
	os.Link(d+"/top/sub/f", d+"/top/hard")
	os.Symlink(outside, d+"/top/esc")
	var b bytes.Buffer
	n, err := WriteTree(context.Background(), &b, openPath(t, d+"/top"), "renamed")
	if err != nil {
		t.Fatal(err)
	}
	got := names(t, b.Bytes())
	if n != 5 || got["renamed/"] == nil || got["renamed/sub/f"] == nil || got["renamed/hard"] == nil {
		t.Errorf("WriteTree wrote %d bytes, entries %v", n, got)
	}
	if h := got["renamed/esc"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != outside {
		t.Errorf("the symlink: %+v", h)
	}
	// The first name in the walk is the file, the other a link to it.
	if first, h := got["renamed/hard"], got["renamed/sub/f"]; first.Typeflag != tar.TypeReg || first.Size != 5 || h.Typeflag != tar.TypeLink || h.Linkname != "renamed/hard" {
		t.Errorf("the hard link: %+v to %+v", h, first)
	}
	for name := range got {
		if strings.Contains(name, "secret") {
			t.Errorf("WriteTree followed the symlink: %s", name)
		}
	}
}

func tarOf(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Linkname))
		}
		content := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname = ""
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(content))
		}
	}
	tw.Close()
	return b.Bytes()
}

// TestExtract: owners rewritten (set-id bits dropped with them), device nodes left out when
// asked, docker's refusals of a directory over a file and the reverse, and a symlink the tar
// plants never leads a later name out of the directory.
func TestExtract(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: chown and mknod need root")
	}
	outside := t.TempDir()
	d := t.TempDir()
	os.WriteFile(d+"/file", nil, 0o644)
	os.Mkdir(d+"/dir", 0o755)
	dirfd := openPath(t, d)
	ctx := context.Background()
	owner := &[2]int{0, 0}

	in := tarOf(t,
		&tar.Header{Name: "suid", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 1000, Linkname: "x"},
		&tar.Header{Name: "node", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
	)
	if _, err := Extract(ctx, dirfd, bytes.NewReader(in), ExtractOptions{Owner: owner, NoDevices: true}); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(d+"/suid", &st); err != nil || st.Uid != 0 || st.Mode&0o7777 != 0o755 {
		t.Errorf("suid: %+v %v, want 0:0 0755", st, err)
	}
	if _, err := os.Lstat(d + "/node"); err == nil {
		t.Errorf("a device node was made with NoDevices")
	}
	planted := tarOf(t, &tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: outside},
		&tar.Header{Name: "esc/planted", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "p"})
	Extract(ctx, dirfd, bytes.NewReader(planted), ExtractOptions{}) // fails or stays inside
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a name through the tar's symlink left the directory: %v", entries)
	}

	for _, c := range []struct {
		hdr  *tar.Header
		want string
	}{
		{&tar.Header{Name: "dir", Typeflag: tar.TypeReg, Linkname: "x"}, `cannot overwrite directory "/dir" with non-directory "dir"`},
		{&tar.Header{Name: "file/", Typeflag: tar.TypeDir, Mode: 0o755}, `cannot overwrite non-directory "/file" with directory "file/"`},
		{&tar.Header{Name: "../up", Typeflag: tar.TypeReg, Linkname: "x"}, "path escapes the destination directory"},
	} {
		_, err := Extract(ctx, dirfd, bytes.NewReader(tarOf(t, c.hdr)), ExtractOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.hdr.Name, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(d), "up")); err == nil {
		t.Errorf("../up was made")
	}
}

// TestExtractAUFSNames: a tar a user copies is no layer, so a ".wh..wh.aufs" at its root is a
// file, as docker cp's Untar extracts it, where a layer's AUFS metadata is left out.
func TestExtractAUFSNames(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: Extract chowns, which needs root")
	}
	d := t.TempDir()
	in := tarOf(t, &tar.Header{Name: ".wh..wh.aufs", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "user data"})
	if _, err := Extract(context.Background(), openPath(t, d), bytes.NewReader(in), ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(d + "/.wh..wh.aufs"); err != nil || !fi.Mode().IsRegular() {
		t.Errorf(".wh..wh.aufs: %v, %v; want the file", fi, err)
	}
}

// gnuSparseTar is one old GNU format sparse entry ('S', as `tar --sparse --format=gnu` writes
// it): data at offset, in a file of realsize bytes. archive/tar writes no sparse entries, so
// the blocks are built by hand (the gnu header of archive/tar's format.go).
func gnuSparseTar(name, data string, offset, realsize int64) []byte {
	b := make([]byte, 512)
	copy(b[0:], name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", len(data)))
	copy(b[136:], fmt.Sprintf("%011o\x00", 1700000000))
	b[156] = tar.TypeGNUSparse
	copy(b[257:], "ustar  \x00")
	copy(b[386:], fmt.Sprintf("%011o\x00%011o\x00", offset, len(data)))
	copy(b[483:], fmt.Sprintf("%011o\x00", realsize))
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	var buf bytes.Buffer
	buf.Write(b)
	buf.WriteString(data)
	buf.Write(make([]byte, 512-len(data)%512+1024))
	return buf.Bytes()
}

// TestExtractSparseAndErrors: an old GNU sparse entry is extracted as its whole content (it
// failed as "extraction ended"), and Apply's refusal is the error said even when the rest of
// the tar is still being written (the rewriter's broken pipe hid it).
func TestExtractSparseAndErrors(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: chown needs root")
	}
	d := t.TempDir()
	dirfd := openPath(t, d)
	ctx := context.Background()
	if _, err := Extract(ctx, dirfd, bytes.NewReader(gnuSparseTar("sparse", "hello", 1<<20, 2<<20)), ExtractOptions{Owner: &[2]int{0, 0}}); err != nil {
		t.Fatalf("GNU sparse: %v", err)
	}
	if b, err := os.ReadFile(d + "/sparse"); err != nil || len(b) != 2<<20 || string(b[1<<20:1<<20+5]) != "hello" || bytes.Count(b, []byte{0}) != 2<<20-5 {
		t.Errorf("GNU sparse: %d bytes, %v", len(b), err)
	}
	big := strings.Repeat("x", 32<<20)
	in := tarOf(t, &tar.Header{Name: "l", Typeflag: tar.TypeLink, Linkname: "missing"},
		&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: big})
	if _, err := Extract(ctx, dirfd, bytes.NewReader(in), ExtractOptions{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a link to a missing file before a big one: %v, want Apply's error naming it", err)
	}
}

// TestExtractLimits: MaxEntries and MaxSize reach both the decompression and Apply (cp lifts
// a pulled layer's bounds with them), and 0 keeps layers' defaults.
func TestExtractLimits(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: chown needs root")
	}
	ctx := context.Background()
	in := tarOf(t, &tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "1"},
		&tar.Header{Name: "b", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "2"},
		&tar.Header{Name: "c", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: strings.Repeat("x", 8192)})
	for _, c := range []struct {
		opts ExtractOptions
		ok   bool
	}{
		{ExtractOptions{}, true},
		{ExtractOptions{MaxEntries: 2}, false},
		{ExtractOptions{MaxSize: 4096}, false},
		{ExtractOptions{MaxEntries: 3, MaxSize: 1 << 62}, true},
	} {
		dirfd := openPath(t, t.TempDir())
		if _, err := Extract(ctx, dirfd, bytes.NewReader(in), c.opts); (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok %v", c.opts, err, c.ok)
		}
	}
}

// TestExtractCutShort: a tar that ends inside a file's content (cp - fed a truncated
// stream), or a file past MaxSize, fails without leaving that file half written; what came
// before it stays, as docker's cp keeps it.
func TestExtractCutShort(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: chown needs root")
	}
	ctx := context.Background()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("a"))
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 20})
	tw.Write(bytes.Repeat([]byte("y"), 1024)) // and no more: the stream ends here
	for _, c := range []struct {
		in   []byte
		opts ExtractOptions
	}{
		{buf.Bytes(), ExtractOptions{}},
		{tarOf(t, &tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: "a"},
			&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Linkname: strings.Repeat("y", 64<<10)}),
			ExtractOptions{MaxSize: 8192}},
	} {
		d := t.TempDir()
		if _, err := Extract(ctx, openPath(t, d), bytes.NewReader(c.in), c.opts); err == nil {
			t.Errorf("%+v: extracted", c.opts)
		}
		if b, err := os.ReadFile(d + "/a"); err != nil || string(b) != "a" {
			t.Errorf("%+v: the file before: %q, %v", c.opts, b, err)
		}
		if _, err := os.Lstat(d + "/big"); !os.IsNotExist(err) {
			t.Errorf("%+v: the file cut short is left: %v", c.opts, err)
		}
	}
}

// deepTree makes n dirs "d" nested in dir, a file f at the bottom, each made in its parent's
// descriptor (the path outgrows PATH_MAX).
func deepTree(t *testing.T, dir string, n int) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	defer unix.Close(fd)
	f, err := unix.Openat(fd, "f", unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(f, []byte("bottom"))
	unix.Close(f)
}

// TestWriteTreeDeep: a tree as deep as a copy can name is written whole, and a deeper one is
// an error in one short line. Past 512 levels the walk stopped without a word: cp of a
// container's deep tree exited 0 with everything below level 512 left out.
func TestWriteTreeDeep(t *testing.T) {
	d := t.TempDir()
	deepTree(t, d, 600)
	var b bytes.Buffer
	if _, err := WriteTree(context.Background(), &b, openPath(t, d+"/d"), "d"); err != nil {
		t.Fatal(err)
	}
	if bottom := strings.Repeat("d/", 600) + "f"; names(t, b.Bytes())[bottom] == nil {
		t.Errorf("a tree of 600 levels: %s missing from the tar", "(d/)x600f")
	}

	d = t.TempDir()
	deepTree(t, d, maxDepth+1)
	_, err := WriteTree(context.Background(), io.Discard, openPath(t, d+"/d"), "d")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("directories nested more than %d deep", maxDepth)) || len(err.Error()) > 400 {
		t.Errorf("a tree of %d levels: %.500v; want a short error", maxDepth+1, err)
	}
}

// cancelingWriter cancels its context once it has taken at bytes, and fails a write that
// comes after more than slack bytes more.
type cancelingWriter struct {
	cancel     context.CancelFunc
	at, slack  int64
	n          int64
	overflowed bool
}

func (w *cancelingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n >= w.at {
		w.cancel()
	}
	if w.n > w.at+w.slack {
		w.overflowed = true
		return 0, fmt.Errorf("still writing %d bytes past the cancel", w.n-w.at)
	}
	return len(p), nil
}

// TestWriteTreeCanceledInFile: a copy canceled (Ctrl-C) while it reads a huge file stops:
// a container's sparse file of a terabyte, which takes no room on its disk, was read to its
// end, hours of zeros, whatever the context said (cp CONTAINER:big - to a pipe).
func TestWriteTreeCanceledInFile(t *testing.T) {
	d := t.TempDir()
	f, err := os.Create(filepath.Join(d, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		t.Skipf("skipping: a sparse file of 1 TiB: %v", err)
	}
	f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelingWriter{cancel: cancel, at: 1 << 20, slack: 64 << 20}
	_, err = WriteTree(ctx, w, openPath(t, d+"/big"), "big")
	if w.overflowed || !errors.Is(err, context.Canceled) {
		t.Errorf("WriteTree canceled in a file = %v (overflowed: %v), want it to stop with context.Canceled", err, w.overflowed)
	}
}
