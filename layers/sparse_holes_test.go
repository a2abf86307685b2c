package layers

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
	"time"

	"golang.org/x/sys/unix"
)

// archive/tar's writer drops GNU.sparse.* records, so the sparse entries below are built by
// hand, as GNU tar lays them out (format.go and reader.go of archive/tar describe the same).

// tarNumber fills a numeric header field: octal when it fits, else GNU's base-256, which GNU
// tar uses for sizes of 8 GiB and more.
func tarNumber(field []byte, v int64) {
	if s := fmt.Sprintf("%0*o", len(field)-1, v); len(s) < len(field) {
		copy(field, s+"\x00")
		return
	}
	clear(field)
	field[0] = 0x80
	for i := len(field) - 1; v > 0; i-- {
		field[i] = byte(v)
		v >>= 8
	}
}

// checksum sets a header block's checksum field.
func checksum(b []byte) {
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// oldGNUSparse is an old GNU 'S' entry of up to 4 extents, the map in the header itself.
func oldGNUSparse(name string, extents [][2]int64, realsize int64, data string) []byte {
	b := rawHeader(name, tar.TypeGNUSparse, len(data))
	copy(b[257:265], "ustar  \x00")
	for i, e := range extents {
		tarNumber(b[386+24*i:398+24*i], e[0])
		tarNumber(b[398+24*i:410+24*i], e[1])
	}
	tarNumber(b[483:495], realsize)
	checksum(b)
	var buf bytes.Buffer
	writeBlocks(&buf, b, data)
	return buf.Bytes()
}

// paxSparse00 is a PAX 0.0 entry: the map as repeated GNU.sparse.offset and .numbytes records.
func paxSparse00(name string, extents [][2]int64, realsize int64, data string) []byte {
	pax := paxRecord("GNU.sparse.size", fmt.Sprint(realsize)) +
		paxRecord("GNU.sparse.numblocks", fmt.Sprint(len(extents)))
	for _, e := range extents {
		pax += paxRecord("GNU.sparse.offset", fmt.Sprint(e[0])) + paxRecord("GNU.sparse.numbytes", fmt.Sprint(e[1]))
	}
	var buf bytes.Buffer
	writeBlocks(&buf, rawHeader("PaxHeaders/x", tar.TypeXHeader, len(pax)), pax)
	writeBlocks(&buf, rawHeader(name, tar.TypeReg, len(data)), data)
	return buf.Bytes()
}

// paxSparse10 is a PAX 1.0 entry: the map in decimal lines at the start of the content.
func paxSparse10(name string, extents [][2]int64, realsize int64, data string) []byte {
	pax := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", fmt.Sprint(realsize))
	sparseMap := fmt.Sprintf("%d\n", len(extents))
	for _, e := range extents {
		sparseMap += fmt.Sprintf("%d\n%d\n", e[0], e[1])
	}
	body := sparseMap + strings.Repeat("\x00", -len(sparseMap)&511) + data
	var buf bytes.Buffer
	writeBlocks(&buf, rawHeader("PaxHeaders/x", tar.TypeXHeader, len(pax)), pax)
	writeBlocks(&buf, rawHeader("GNUSparseFile.0/x", tar.TypeReg, len(body)), body)
	return buf.Bytes()
}

// sparseFormats builds one sparse entry in each format GNU tar writes.
var sparseFormats = []struct {
	name  string
	entry func(name string, extents [][2]int64, realsize int64, data string) []byte
}{
	{"old GNU", oldGNUSparse},
	{"PAX 0.0", paxSparse00},
	{"PAX 0.1", func(name string, extents [][2]int64, realsize int64, data string) []byte {
		var m []string
		for _, e := range extents {
			m = append(m, fmt.Sprint(e[0]), fmt.Sprint(e[1]))
		}
		return paxSparse01(name, strings.Join(m, ","), realsize, data)
	}},
	{"PAX 1.0", paxSparse10},
}

// allocated is the bytes name takes on disk.
func allocated(t *testing.T, name string) int64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(name, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestApplySparseHostileHoles applies a 1 KiB layer whose one file declares 60 GiB of holes,
// below the default MaxSize. Entries whose map Apply finds apply without reading their holes
// (sparsemap.go). For the others, archive/tar's Read hands every hole byte over as a zero, so
// Apply can only bound that work, not skip it: the holes run out of their own budget
// (maxSparseHoles) within a second or so, where reading the 60 GiB took 10 s to a minute.
func TestApplySparseHostileHoles(t *testing.T) {
	const hole = 60 << 30
	for _, f := range append(sparseFormats, ambiguousFormat) {
		t.Run(f.name, func(t *testing.T) {
			layer := append(f.entry("lastlog", [][2]int64{{hole, 5}}, hole+5, "hello"), make([]byte, 1024)...)
			j := newJail(t)
			start := time.Now()
			_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
			took := time.Since(start)
			j.check(t)
			var want error
			if f.name == ambiguousFormat.name {
				want = ErrTooLarge
			}
			if !errors.Is(err, want) || (err != nil) != (want != nil) {
				t.Fatalf("Apply(%d bytes declaring 60 GiB of holes) = %v after %v, want %v", len(layer), err, took, want)
			}
			t.Logf("Apply = %v after %v", err, took)
			// A generous bound for a loaded machine; the budget makes it well under a second.
			if took > 20*time.Second {
				t.Errorf("Apply took %v, want the holes bounded", took)
			}
			p := filepath.Join(j.root, "lastlog")
			if _, serr := os.Lstat(p); err != nil && os.IsNotExist(serr) {
				return // refused, and the file it began removed: nothing on disk
			}
			if allocated(t, p) >= 1<<20 {
				t.Errorf("lastlog uses %d bytes on disk, want its holes left unwritten", allocated(t, p))
			}
		})
	}
}

// TestApplySparseHoleBudget: holes that archive/tar reads out (of entries whose map Apply
// cannot find for certain) have their own budget, taken over the whole layer, and do not count
// against MaxSize as content.
func TestApplySparseHoleBudget(t *testing.T) {
	defer func(v int64) { maxSparseHoles = v }(maxSparseHoles)
	maxSparseHoles = 40 << 20
	const hole = 16 << 20
	sparse := func(name string) []byte {
		return ambiguousGNUSparse(name, [][2]int64{{hole, 5}}, hole+5, "hello")
	}
	end := make([]byte, 1024)
	tests := []struct {
		name    string
		layer   []byte
		maxSize int64
		wantErr error
	}{
		{"two files, 32 MiB of holes", bytes.Join([][]byte{sparse("a"), sparse("b"), end}, nil), 0, nil},
		{"three files, 48 MiB of holes", bytes.Join([][]byte{sparse("a"), sparse("b"), sparse("c"), end}, nil), 0, ErrTooLarge},
		{"12 MiB of content and 16 MiB of holes, MaxSize 24 MiB", bytes.Join([][]byte{
			tarOf(t, file("big", strings.Repeat("x", 12<<20), 0o644))[:12<<20+512], sparse("a"), end,
		}, nil), 24 << 20, nil},
		{"holes past MaxSize", bytes.Join([][]byte{sparse("a"), end}, nil), 1 << 20, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			_, err := Apply(context.Background(), j.root, bytes.NewReader(tc.layer), Options{IgnoreOwners: true, MaxSize: tc.maxSize})
			j.check(t)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("Apply(%s) = %v, want %v", tc.name, err, tc.wantErr)
			}
		})
	}
}

// TestApplySparseLastlog applies a lastlog as `tar --sparse` stores it, 300 MiB apparent and
// a few records, in each format: the file reads as archive/tar's Reader yields it and keeps
// its holes.
func TestApplySparseLastlog(t *testing.T) {
	const size = 300 << 20
	extents := [][2]int64{{0, 292}, {1000 * 292, 292}, {65534 * 292, 292}, {size - 292, 292}}
	data := strings.Repeat("r", 292) + strings.Repeat("\x00", 100) + strings.Repeat("s", 192) +
		strings.Repeat("t", 292) + strings.Repeat("u", 292)
	for _, f := range sparseFormats {
		t.Run(f.name, func(t *testing.T) {
			layer := append(f.entry("lastlog", extents, size, data), make([]byte, 1024)...)
			j := newJail(t)
			if _, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true}); err != nil {
				t.Fatalf("Apply(lastlog) = %v", err)
			}
			j.check(t)
			tr := tar.NewReader(bytes.NewReader(layer))
			if _, err := tr.Next(); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(j.root, "lastlog")
			got, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if err := sameContent(got, tr); err != nil {
				t.Fatalf("lastlog: %v", err)
			}
			// Four records take a page each; the filesystem may round up, but not to the 256 KiB
			// a chunk of the copy takes.
			if used := allocated(t, p); used >= 256<<10 {
				t.Errorf("lastlog uses %d bytes on disk, want its holes kept", used)
			}
		})
	}
}

// sameContent compares two streams in chunks, so that a large sparse file is not held in memory.
func sameContent(got, want io.Reader) error {
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); ; off += int64(len(a)) {
		n, errA := io.ReadFull(got, a)
		m, errB := io.ReadFull(want, b)
		if !bytes.Equal(a[:n], b[:m]) {
			return fmt.Errorf("differs from archive/tar's content in the MiB at %d (%d and %d bytes read)", off, n, m)
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			if errB != io.EOF && errB != io.ErrUnexpectedEOF {
				return fmt.Errorf("ends at %d, archive/tar's content goes on", off+int64(n))
			}
			return nil
		}
		if errA != nil {
			return errA
		}
		if errB != nil {
			return fmt.Errorf("archive/tar's content: %w", errB)
		}
	}
}
