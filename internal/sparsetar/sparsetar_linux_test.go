package sparsetar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWriteFileHeader: what the USTAR block of a sparse entry cannot hold (a uid or gid past
// 7 octal digits, a time before 1970 or with nanoseconds, xattrs) goes in its PAX header,
// and archive/tar reads the entry back as the header and content the file has. A file
// without holes has no map: it is written whole.
func TestWriteFileHeader(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 16 << 20
	f.Truncate(size)
	f.WriteAt([]byte("mid"), 8<<20)
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Blocks*512 >= size {
		t.Skipf("skipping: %s keeps no holes", dir)
	}
	frags, err := Map(context.Background(), f, size)
	if err != nil || len(frags) != 1 || frags[0].Off > 8<<20 || frags[0].Off+frags[0].N < 8<<20+3 {
		t.Fatalf("Map = %v, %v; want one run of data around 8 MiB", frags, err)
	}
	for _, mtime := range []time.Time{time.Unix(-2, 5e8), time.Unix(1700000000, 123), time.Unix(1<<34, 0)} {
		hdr := &tar.Header{
			Name: "dir/ünï " + string(bytes.Repeat([]byte("x"), 150)), Mode: 0o4755, Uid: 1 << 22, Gid: 1 << 23,
			ModTime: mtime, Size: size, PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"},
		}
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := WriteFile(context.Background(), &b, tw, f, hdr, frags); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(&b)
		got, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != hdr.Name || got.Size != size || got.Mode != hdr.Mode || got.Uid != hdr.Uid || got.Gid != hdr.Gid ||
			!got.ModTime.Equal(mtime) || got.PAXRecords["SCHILY.xattr.user.k"] != "v" {
			t.Errorf("read back %q %d %o %d:%d %v %v, want %q %d %o %d:%d %v", got.Name, got.Size, got.Mode, got.Uid, got.Gid, got.ModTime, got.PAXRecords,
				hdr.Name, size, hdr.Mode, hdr.Uid, hdr.Gid, mtime)
		}
		data, err := io.ReadAll(tr)
		if err != nil || len(data) != size || string(data[8<<20:8<<20+3]) != "mid" || bytes.Count(data, []byte{0}) != size-3 {
			t.Errorf("content: %d bytes, %v", len(data), err)
		}
	}

	dense := filepath.Join(dir, "dense")
	os.WriteFile(dense, bytes.Repeat([]byte("d"), 64<<10), 0o644)
	g, err := os.Open(dense)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if frags, err := Map(context.Background(), g, 64<<10); frags != nil || err != nil {
		t.Errorf("Map of a file without holes = %v, %v; want nil", frags, err)
	}
}

// TestWriteFileAllHoles: a file of holes only (truncate -s 1G) has a map of no data, and its
// entry is a few blocks that archive/tar reads back as the whole size of zeros; Map returned
// nil for it, so it was written whole, a gigabyte of zeros read and written.
func TestWriteFileAllHoles(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "holes"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 1 << 30
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_DATA); err == nil || !errors.Is(err, unix.ENXIO) {
		t.Skipf("skipping: %s does not report holes (SEEK_DATA: %v)", dir, err)
	}
	frags, err := Map(context.Background(), f, size)
	if err != nil || frags == nil {
		t.Fatalf("Map of a file of holes only = %v, %v; want an empty map", frags, err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := WriteFile(context.Background(), &b, tw, f, &tar.Header{Name: "holes", Mode: 0o644, Size: size}, frags); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Len() > 64<<10 {
		t.Fatalf("the entry of a file of holes takes %d bytes", b.Len())
	}
	tr := tar.NewReader(&b)
	got, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, tr)
	if got.Name != "holes" || got.Size != size || n != size || err != nil {
		t.Errorf("read back %q of %d bytes, content %d, %v; want holes of %d", got.Name, got.Size, n, err, size)
	}
}

// TestMapFileShrinks: a file a running container truncates while Map looks for its data (after
// SEEK_DATA found a run, before SEEK_HOLE asks where it ends) is mapped up to where it
// ended, the rest of its old size written as zeros as a dense copy does; SEEK_HOLE past the
// end answered ENXIO and the copy failed ("finding holes: no such device or address").
func TestMapFileShrinks(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 16 << 20
	f.Truncate(size)
	f.WriteAt([]byte("head"), 0)
	f.WriteAt([]byte("tail"), 12<<20)
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Blocks*512 >= size {
		t.Skipf("skipping: %s keeps no holes", dir)
	}
	t.Cleanup(func() { seek = unix.Seek })
	seek = func(fd int, off int64, whence int) (int64, error) {
		if whence == unix.SEEK_HOLE && off >= 8<<20 {
			if err := f.Truncate(4 << 20); err != nil { // the container truncates it
				t.Error(err)
			}
		}
		return unix.Seek(fd, off, whence)
	}
	frags, err := Map(context.Background(), f, size)
	if err != nil {
		t.Fatalf("Map of a file that shrinks = %v, %v; want the runs before its new end", frags, err)
	}
	seek = unix.Seek
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := WriteFile(context.Background(), &b, tw, f, &tar.Header{Name: "log", Mode: 0o644, Size: size}, frags); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	tr := tar.NewReader(&b)
	if h, err := tr.Next(); err != nil || h.Size != size {
		t.Fatalf("read back %+v, %v", h, err)
	}
	data, err := io.ReadAll(tr)
	if err != nil || len(data) != size || string(data[:4]) != "head" || bytes.Count(data, []byte{0}) != size-4 {
		t.Errorf("content: %d bytes, %v; want head and zeros", len(data), err)
	}
}

// errAfter is a writer that keeps the first n bytes written and then fails.
type errAfter struct {
	b bytes.Buffer
	n int
}

var errEnough = errors.New("enough")

func (w *errAfter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.n {
		k := w.n - w.b.Len()
		w.b.Write(p[:k])
		return k, errEnough
	}
	return w.b.Write(p)
}

// TestWriteFileLargeData: a sparse file of more than 8 GiB of data (a disk image, half of it
// allocated) is written with its size in the PAX header, which the USTAR block's 11 octal
// digits cannot hold: tar.Writer refused that header ("USTAR cannot encode Size") after the
// PAX header was out, and cp and export failed, their tar cut. The entry's start is read
// back here; its data, 9 GiB, is not written (the writer fails after the map).
func TestWriteFileLargeData(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "disk"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size, data = 20 << 30, 9 << 30
	if err := f.Truncate(size); err != nil {
		t.Skipf("skipping: %v", err)
	}
	frags := []Fragment{{0, data}, {size - 4096, 4096}}
	w := &errAfter{n: 4 << 10}
	tw := tar.NewWriter(w)
	err = WriteFile(context.Background(), w, tw, f, &tar.Header{Name: "disk", Mode: 0o644, Size: size}, frags)
	if !errors.Is(err, errEnough) {
		t.Fatalf("WriteFile = %v; want it to write the data (and the test's writer to stop it)", err)
	}
	tr := tar.NewReader(&w.b)
	h, err := tr.Next()
	if err != nil || h.Name != "disk" || h.Size != size {
		t.Fatalf("read back %+v, %v; want disk of %d bytes", h, err, size)
	}
}

// TestWriteFileSizeInPAX: an entry whose size the USTAR block cannot hold (past 8 GiB, here
// past a lowered bound) reads back whole, content, padding and the entry after it, through
// archive/tar and GNU tar.
func TestWriteFileSizeInPAX(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 1 << 20
	f.Truncate(size)
	f.WriteAt([]byte("mid"), 500<<10)
	defer func(v int64) { maxUSTARSize = v }(maxUSTARSize)
	maxUSTARSize = 100
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	frags := []Fragment{{500 << 10, 4099}}
	if err := WriteFile(context.Background(), &b, tw, f, &tar.Header{Name: "f", Mode: 0o644, Size: size}, frags); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "after", Mode: 0o644, Size: 2}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("ok"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(dir, "t.tar")
	os.WriteFile(tarball, b.Bytes(), 0o644)
	tr := tar.NewReader(&b)
	h, err := tr.Next()
	if err != nil || h.Name != "f" || h.Size != size {
		t.Fatalf("read back %+v, %v", h, err)
	}
	data, err := io.ReadAll(tr)
	if err != nil || len(data) != size || string(data[500<<10:500<<10+3]) != "mid" || bytes.Count(data, []byte{0}) != size-3 {
		t.Errorf("content: %d bytes, %v", len(data), err)
	}
	h, err = tr.Next()
	rest, _ := io.ReadAll(tr)
	if err != nil || h.Name != "after" || string(rest) != "ok" {
		t.Errorf("the entry after: %+v %q, %v", h, rest, err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
	if gnu, err := exec.LookPath("tar"); err == nil {
		out, err := exec.Command(gnu, "-tvf", tarball).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte(" 1048576 ")) || !bytes.Contains(out, []byte("after")) {
			t.Errorf("tar -tvf: %s, %v", out, err)
		}
	}
}
