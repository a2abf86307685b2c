package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWriteTreeHoles: with Holes (export's), a file of 1 GiB of holes and two runs of data
// is written in a few KiB, as a sparse entry that archive/tar reads as the file it is, its
// capability xattr kept; Apply makes it again with its holes. Written whole, it was 1 GiB of
// zeros read and written (docker's export has them).
func TestWriteTreeHoles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 30
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("data"), 300<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), size-3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil || st.Blocks*512 >= size {
		t.Skipf("skipping: %s keeps no holes", dir)
	}
	capXattr := "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	hasCap := unix.Setxattr(p, "security.capability", []byte(capXattr), 0) == nil

	var b bytes.Buffer
	if err := WriteTree(context.Background(), &b, []string{dir}, TreeOptions{Holes: true}); err != nil {
		t.Fatal(err)
	}
	if b.Len() > 64<<10 {
		t.Errorf("%d bytes of tar for a file of two runs of data, want a few KiB", b.Len())
	}
	tr := tar.NewReader(bytes.NewReader(b.Bytes()))
	h, err := tr.Next()
	if err != nil || h.Name != "big" || h.Size != size {
		t.Fatalf("archive/tar: %+v, %v; want big, %d bytes", h, err, size)
	}
	if got := h.PAXRecords["SCHILY.xattr.security.capability"]; hasCap && got != capXattr {
		t.Errorf("capability xattr %q, want %q", got, capXattr)
	}

	out := t.TempDir()
	if _, err := Apply(context.Background(), out, bytes.NewReader(b.Bytes()), Options{IgnoreOwners: true}); err != nil {
		t.Fatal(err)
	}
	g, err := os.Open(filepath.Join(out, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := unix.Fstat(int(g.Fd()), &st); err != nil || st.Size != size || st.Blocks*512 > 64<<10 {
		t.Errorf("applied: %d bytes in %d blocks, %v; want %d bytes, holes", st.Size, st.Blocks, err, size)
	}
	got := make([]byte, 6)
	if _, err := g.ReadAt(got, 300<<20-1); err != nil || string(got) != "\x00data\x00" {
		t.Errorf("applied at 300 MiB: %q, %v", got, err)
	}
	if _, err := g.ReadAt(got[:3], size-3); err != nil && err != io.EOF || string(got[:3]) != "end" {
		t.Errorf("applied at its end: %q, %v", got[:3], err)
	}
}
