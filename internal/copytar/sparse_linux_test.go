package copytar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/sparsetar"
)

// sparseFixture makes a file of size bytes of holes with data at the offsets given, and
// says whether its filesystem keeps holes (the test skips where it does not).
func sparseFixture(t *testing.T, dir string, size int64, data map[int64]string) string {
	t.Helper()
	p := filepath.Join(dir, "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, s := range data {
		if _, err := f.WriteAt([]byte(s), off); err != nil {
			t.Fatal(err)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= size {
		t.Skipf("skipping: %s keeps no holes", dir)
	}
	return p
}

// copyTree is cp's pipe: WriteTreeWith Holes into Extract, as they run concurrently. It
// returns the bytes of tar that went through.
func copyTree(t *testing.T, src, dst string) (int64, error) {
	t.Helper()
	fd := openPath(t, src)
	dirfd := openPath(t, dst)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := WriteTreeWith(context.Background(), pw, fd, filepath.Base(src), WriteOptions{Holes: true})
		pw.CloseWithError(err)
		done <- err
	}()
	n, err := Extract(context.Background(), dirfd, pr, ExtractOptions{MinFreeBytes: -1, MaxSize: 1 << 62})
	pr.CloseWithError(errors.New("copy ended"))
	if werr := <-done; err == nil {
		err = werr
	}
	return n, err
}

// checkSparseCopy checks that p has size bytes, data at the offsets given, zeros elsewhere
// (read where the data is, and through SEEK_DATA: no data but those blocks), and holes.
func checkSparseCopy(t *testing.T, p string, size int64, data map[int64]string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size || st.Blocks*512 > int64(len(data))*64<<10 {
		t.Errorf("%s: %d bytes in %d blocks of 512, want %d bytes in holes but for %d runs of data", p, st.Size, st.Blocks, size, len(data))
	}
	for off, s := range data {
		b := make([]byte, len(s)+2)
		n, _ := f.ReadAt(b, max(0, off-1))
		want := "\x00" + s + "\x00"
		if off == 0 {
			want = s + "\x00\x00"
		}
		if off+int64(len(s)) == size {
			want = want[:n]
		}
		if string(b[:n]) != want {
			t.Errorf("%s at %d: %q, want %q", p, off, b[:n], want)
		}
	}
}

// TestCopyKeepsHoles: cp's tar between a tree and a directory (into a container or out of
// one) keeps a sparse file's holes, and costs its data, not its size: a file of 1 GiB of
// holes and three runs of data goes over in a few KiB of tar and lands as holes, where
// WriteTree read it whole and Extract wrote it dense, 1 GiB of zeros through the pipe and
// onto the disk (docker's cp does as much).
func TestCopyKeepsHoles(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: chown needs root")
	}
	const size = 1 << 30
	data := map[int64]string{0: "first", 100 << 20: "middle", size - 3: "end"}
	src := sparseFixture(t, t.TempDir(), size, data)
	dst := t.TempDir()
	n, err := copyTree(t, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if n > 64<<10 {
		t.Errorf("%d bytes of tar for a file of 3 runs of data, want a few KiB", n)
	}
	checkSparseCopy(t, filepath.Join(dst, "sparse"), size, data)

	// A file of holes only (truncate -s 1G) goes over as holes too: it went dense.
	src = sparseFixture(t, t.TempDir(), size, nil)
	dst = t.TempDir()
	if n, err = copyTree(t, src, dst); err != nil {
		t.Fatal(err)
	}
	if n > 64<<10 {
		t.Errorf("%d bytes of tar for a file of holes only, want a few KiB", n)
	}
	checkSparseCopy(t, filepath.Join(dst, "sparse"), size, nil)

	// archive/tar reads the entry as the file it is (GNU tar and bsdtar read the format too).
	const small = 8 << 20
	src = sparseFixture(t, t.TempDir(), small, map[int64]string{0: "first", 1 << 20: "middle", small - 3: "end"})
	var b bytes.Buffer
	if _, err := WriteTreeWith(context.Background(), &b, openPath(t, src), "sparse", WriteOptions{Holes: true}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&b)
	h, err := tr.Next()
	if err != nil || h.Name != "sparse" || h.Size != small || h.Typeflag != tar.TypeReg {
		t.Fatalf("archive/tar: %+v, %v; want sparse, %d bytes", h, err, small)
	}
	got, err := io.ReadAll(tr)
	if err != nil || len(got) != small || string(got[:5]) != "first" || string(got[1<<20:1<<20+6]) != "middle" || string(got[small-3:]) != "end" || bytes.Count(got, []byte{0}) != small-14 {
		t.Errorf("archive/tar read %d bytes, %v", len(got), err)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("after the entry: %v, want io.EOF", err)
	}
}

// TestCopyFragmentedFile: a file of more runs of data than a sparse map takes has the runs
// closest together merged, the holes between them copied as zeros (its content whole), and
// one whose merge would take more than MaxMergedHoles of holes fails in one line, never
// copied dense: a container's file of scattered blocks must not cost its whole size.
func TestCopyFragmentedFile(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: chown needs root")
	}
	defer func(n int, m int64) { sparsetar.MaxFragments, sparsetar.MaxMergedHoles = n, m }(sparsetar.MaxFragments, sparsetar.MaxMergedHoles)
	sparsetar.MaxFragments = 4
	const size = 64 << 20
	data := map[int64]string{}
	for i := int64(0); i < 12; i++ {
		data[i*(5<<20)+i*4096] = "run" // 12 runs, the gaps between them growing by a block
	}
	src := sparseFixture(t, t.TempDir(), size, data)
	dst := t.TempDir()
	if _, err := copyTree(t, src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "sparse"))
	if err != nil || len(got) != size || bytes.Count(got, []byte("run")) != 12 || bytes.Count(got, []byte{0}) != size-36 {
		t.Errorf("merged copy: %d bytes, %d runs, %v", len(got), bytes.Count(got, []byte("run")), err)
	}

	sparsetar.MaxMergedHoles = 8 << 20
	if _, err := copyTree(t, src, t.TempDir()); err == nil || !errors.Is(err, sparsetar.ErrFragmented) {
		t.Errorf("merging past MaxMergedHoles: %v, want %v", err, sparsetar.ErrFragmented)
	}
}

// TestExtractSparseKeepsHoles: a GNU sparse entry of a tar given to cp (cp - CONTAINER:PATH)
// is made with its holes, unread: Extract's rewrite of the tar read it out as zeros and
// wrote it dense.
func TestExtractSparseKeepsHoles(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("skipping: chown needs root")
	}
	d := t.TempDir()
	const size = 256 << 20
	if _, err := Extract(context.Background(), openPath(t, d), bytes.NewReader(gnuSparseTar("sparse", "hello", 1<<20, size)), ExtractOptions{Owner: &[2]int{0, 0}}); err != nil {
		t.Fatal(err)
	}
	checkSparseCopy(t, filepath.Join(d, "sparse"), size, map[int64]string{1 << 20: "hello"})
}
