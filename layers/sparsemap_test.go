package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// oldGNUSparseExt is an old GNU 'S' entry of any number of extents: four in the header, 21 in
// each extension block after it (GNU tar's sparse_header), numbers as tarNumber writes them.
// stored is the size field: the bytes of data that follow, whatever the map says.
func oldGNUSparseExt(name string, extents [][2]int64, realsize int64, data string) []byte {
	b := rawHeader(name, tar.TypeGNUSparse, len(data))
	copy(b[257:265], "ustar  \x00")
	entries := func(blk []byte, ext [][2]int64) {
		for i, e := range ext {
			tarNumber(blk[24*i:24*i+12], e[0])
			tarNumber(blk[24*i+12:24*i+24], e[1])
		}
	}
	first := extents[:min(4, len(extents))]
	entries(b[386:], first)
	rest := extents[len(first):]
	if len(rest) > 0 {
		b[482] = 1
	}
	tarNumber(b[483:495], realsize)
	checksum(b)
	var buf bytes.Buffer
	buf.Write(b)
	for len(rest) > 0 {
		ext := make([]byte, 512)
		n := min(21, len(rest))
		entries(ext, rest[:n])
		rest = rest[n:]
		if len(rest) > 0 {
			ext[504] = 1
		}
		buf.Write(ext)
	}
	writeBlocks(&buf, nil, data)
	return buf.Bytes()
}

// ambiguousGNUSparse is an old GNU 'S' entry of up to 4 extents followed by one extension
// block that holds no extent and is itself a valid 'S' header: archive/tar reads it as an
// extension, and oldGNUSparseMap cannot tell which of the two blocks is the header, so the
// entry takes the slow path, archive/tar's Read under maxSparseHoles.
func ambiguousGNUSparse(name string, extents [][2]int64, realsize int64, data string) []byte {
	main := oldGNUSparse(name, extents, realsize, data)
	main[482] = 1
	checksum(main[:512])
	ext := rawHeader("", tar.TypeGNUSparse, 0)
	copy(ext[257:265], "ustar  \x00")
	checksum(ext)
	return bytes.Join([][]byte{main[:512], ext, main[512:]}, nil)
}

// paxSparse01Of is paxSparse01 with the map given as extents.
func paxSparse01Of(name string, extents [][2]int64, realsize int64, data string) []byte {
	var m []string
	for _, e := range extents {
		m = append(m, fmt.Sprint(e[0]), fmt.Sprint(e[1]))
	}
	return paxSparse01(name, strings.Join(m, ","), realsize, data)
}

// skippingFormats are the formats whose holes Apply never reads (sparsemap.go): sparseFormats,
// old GNU with extension blocks.
var skippingFormats = []struct {
	name  string
	entry func(name string, extents [][2]int64, realsize int64, data string) []byte
}{
	{"old GNU", oldGNUSparseExt},
	{"PAX 0.0", paxSparse00},
	{"PAX 0.1", paxSparse01Of},
	{"PAX 1.0", paxSparse10},
}

// ambiguousFormat is the one that takes the slow path.
var ambiguousFormat = struct {
	name  string
	entry func(name string, extents [][2]int64, realsize int64, data string) []byte
}{"old GNU, ambiguous", ambiguousGNUSparse}

// checkSparseFile checks that name is size bytes, holds data at each extent and zeros
// elsewhere, without reading its holes: every data region the filesystem reports lies in the
// pages of an extent, and those pages read as expected.
func checkSparseFile(t *testing.T, name string, extents [][2]int64, size int64, data string) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Fatalf("%s is %d bytes, want %d", name, fi.Size(), size)
	}
	page := func(off int64) int64 { return off &^ (sparseBlock - 1) }
	inExtent := func(off int64) bool {
		for _, e := range extents {
			if off >= page(e[0]) && off < page(e[0]+e[1]+sparseBlock-1) {
				return true
			}
		}
		return false
	}
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		if !inExtent(data) || !inExtent(hole-1) {
			t.Fatalf("%s has data at [%d, %d), outside its extents", name, data, hole)
		}
		off = hole
	}
	for _, e := range extents {
		start, end := page(e[0]), min(size, page(e[0]+e[1]+sparseBlock-1))
		got := make([]byte, end-start)
		if _, err := f.ReadAt(got, start); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		want := make([]byte, len(got))
		// Other extents may share these pages.
		for _, o := range extents {
			for i := range o[1] {
				if p := o[0] + i - start; p >= 0 && p < int64(len(want)) {
					want[p] = data[dataIndex(extents, o)+int(i)]
				}
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the pages of extent %v differ from the stored data", name, e)
		}
	}
}

// dataIndex is where extent e's bytes start in the stored data.
func dataIndex(extents [][2]int64, e [2]int64) int {
	n := 0
	for _, o := range extents {
		if o == e {
			return n
		}
		n += int(o[1])
	}
	panic("extent not in map")
}

// TestApplySparseHugeLastlog applies the lastlog useradd makes for uid 10^9 (292 bytes a uid):
// 300 GB apparent, four records stored. Its holes are never read, so it applies in time with
// its few KiB of data and keeps them as holes; archive/tar's Read would hand over 300 GB of
// zeros (minutes), which the hole budget refused.
func TestApplySparseHugeLastlog(t *testing.T) {
	const size = 300_000_000_000
	extents := [][2]int64{{0, 292}, {1000 * 292, 292}, {65534 * 292, 292}, {999_999_999 * 292, 292}}
	data := strings.Repeat("r", 292) + strings.Repeat("\x00", 100) + strings.Repeat("s", 192) +
		strings.Repeat("t", 292) + strings.Repeat("u", 292)
	for _, f := range skippingFormats {
		t.Run(f.name, func(t *testing.T) {
			layer := append(f.entry("lastlog", extents, size, data), make([]byte, 1024)...)
			j := newJail(t)
			start := time.Now()
			_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
			took := time.Since(start)
			j.check(t)
			if err != nil {
				t.Fatalf("Apply(300 GB lastlog) = %v after %v", err, took)
			}
			if took > time.Second {
				t.Errorf("Apply(300 GB lastlog) took %v, want its holes skipped", took)
			}
			p := filepath.Join(j.root, "lastlog")
			checkSparseFile(t, p, extents, size, data)
			if used := allocated(t, p); used >= 256<<10 {
				t.Errorf("lastlog uses %d bytes on disk, want its holes kept", used)
			}
		})
	}
}

// TestApplySparseTerabyteHoles: a 1 KiB layer declaring 10 TB of holes applies at once with
// its holes kept; 100 TB, past 1024 times MaxSize, fails at once. An old GNU entry whose map
// cannot be told for certain, whose holes archive/tar reads, fails both against
// maxSparseHoles before reading.
func TestApplySparseTerabyteHoles(t *testing.T) {
	for _, tc := range []struct {
		hole   int64
		wantOK bool
	}{{10_000_000_000_000, true}, {100_000_000_000_000, false}} {
		for _, f := range append(skippingFormats, ambiguousFormat) {
			name := fmt.Sprintf("%s, %d TB", f.name, tc.hole/1e12)
			t.Run(name, func(t *testing.T) {
				skips := f.name != ambiguousFormat.name
				layer := append(f.entry("lastlog", [][2]int64{{tc.hole, 5}}, tc.hole+5, "hello"), make([]byte, 1024)...)
				j := newJail(t)
				start := time.Now()
				_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
				took := time.Since(start)
				j.check(t)
				if took > time.Second {
					t.Errorf("Apply(%s) took %v, want well under a second", name, took)
				}
				if !tc.wantOK || !skips {
					if !errors.Is(err, ErrTooLarge) {
						t.Fatalf("Apply(%s) = %v, want %v", name, err, ErrTooLarge)
					}
					return
				}
				if err != nil {
					t.Fatalf("Apply(%s) = %v", name, err)
				}
				p := filepath.Join(j.root, "lastlog")
				checkSparseFile(t, p, [][2]int64{{tc.hole, 5}}, tc.hole+5, "hello")
				if used := allocated(t, p); used >= 1<<20 {
					t.Errorf("lastlog uses %d bytes on disk, want its holes kept", used)
				}
			})
		}
	}
}

// readAllEntries reads a tar with archive/tar as the reference: each regular file's content by
// name (the last entry wins), or the first error.
func readAllEntries(layer []byte) (map[string][]byte, error) {
	tr := tar.NewReader(bytes.NewReader(layer))
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[hdr.Name] = b
	}
}

// TestApplySparseMatchesTar applies sparse entries of every format, honest and hostile (maps
// unsorted, overlapping, past the size, near 2^63, of huge counts; stored data shorter or
// longer than the map), each followed by a plain file, and compares with archive/tar: Apply
// fails where archive/tar's Next or Read fails, and otherwise every file holds archive/tar's
// bytes. Random maps add more.
func TestApplySparseMatchesTar(t *testing.T) {
	type tcase struct {
		name     string
		extents  [][2]int64
		realsize int64
		data     string
	}
	const huge = 1<<63 - 1
	d := func(n int) string { return strings.Repeat("d", n) }
	cases := []tcase{
		{"one extent", [][2]int64{{100_000, 5}}, 100_005, "hello"},
		{"no extents", nil, 70_000, ""},
		{"empty extents", [][2]int64{{0, 0}, {5000, 0}}, 9000, ""},
		{"hole at the end", [][2]int64{{0, 3}, {4096, 3}}, 1 << 20, "abcdef"},
		{"adjacent extents", [][2]int64{{10, 3}, {13, 3}}, 16, "abcdef"},
		{"zeros in data", [][2]int64{{0, 9000}}, 20000, strings.Repeat("\x00", 8999) + "z"},
		{"30 extents", func() (e [][2]int64) {
			for i := range 30 {
				e = append(e, [2]int64{int64(i) * 10_000, 7})
			}
			return e
		}(), 300_000, d(210)},
		{"unsorted", [][2]int64{{5000, 5}, {0, 5}}, 5005, "hellohello"},
		{"overlapping", [][2]int64{{0, 5}, {3, 5}}, 8, "hellohello"},
		{"past the size", [][2]int64{{0, 5}}, 3, "hello"},
		{"negative offset", [][2]int64{{-5, 5}}, 10, "hello"},
		{"offset near 2^63", [][2]int64{{huge - 2, 5}}, huge, "hello"},
		{"end past 2^63", [][2]int64{{huge - 2, 5}, {huge - 1, 5}}, huge, "hellohello"},
		{"less data than the map", [][2]int64{{0, 5}, {5000, 5}}, 5005, "hello"},
		{"more data than the map", [][2]int64{{0, 5}}, 5005, "hellohello"},
		{"one byte short", [][2]int64{{0, 2}, {5000, 2}}, 5002, "abc"},
		{"one byte over", [][2]int64{{0, 1}}, 5002, "ab"},
		{"no data, some stored", nil, 5000, "x"},
		{"no data, two stored", nil, 5000, "xy"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		var ext [][2]int64
		var off int64
		for range rng.IntN(30) {
			off += rng.Int64N(20_000)
			n := rng.Int64N(3000)
			ext = append(ext, [2]int64{off, n})
			off += n
		}
		data := make([]byte, 0)
		for _, e := range ext {
			data = append(data, bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, int(e[1]))...)
		}
		size := off + rng.Int64N(10_000)
		if i%5 == 0 && len(data) > 0 { // a byte more or less than the map
			if rng.IntN(2) == 0 {
				data = data[:len(data)-1]
			} else {
				data = append(data, 'x')
			}
		}
		cases = append(cases, tcase{fmt.Sprintf("random %d", i), ext, size, string(data)})
	}
	after := tarOf(t, file("after", "next entry", 0o644))
	for _, f := range append(skippingFormats, ambiguousFormat) {
		for _, tc := range cases {
			if f.name == ambiguousFormat.name && len(tc.extents) > 4 {
				continue
			}
			t.Run(f.name+", "+tc.name, func(t *testing.T) {
				layer := append(f.entry("sparse", tc.extents, tc.realsize, tc.data), after...)
				var want map[string][]byte
				wantErr := errors.New("sizes near 2^63 fail against the hole budgets")
				if tc.realsize < 1<<30 { // archive/tar would read out every hole
					want, wantErr = readAllEntries(layer)
				}
				j := newJail(t)
				start := time.Now()
				_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("Apply took %v", took)
				}
				j.check(t)
				if wantErr != nil {
					if err == nil {
						t.Fatalf("Apply = nil, archive/tar fails with %v", wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Apply = %v, archive/tar reads it", err)
				}
				for name, b := range want {
					got, err := os.ReadFile(filepath.Join(j.root, name))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, b) {
						t.Fatalf("%s: %d bytes differ from archive/tar's %d", name, len(got), len(b))
					}
				}
			})
		}
	}
}

// TestApplySparseHugeMaps: maps of huge counts fail as archive/tar fails them, at once.
func TestApplySparseHugeMaps(t *testing.T) {
	many := make([][2]int64, 50_000) // 2,400 extension blocks: past archive/tar's 1 MiB of map
	for i := range many {
		many[i] = [2]int64{int64(i) * 10, 1}
	}
	count := func(numblocks string) []byte {
		pax := paxRecord("GNU.sparse.size", "10") + paxRecord("GNU.sparse.numblocks", numblocks) +
			paxRecord("GNU.sparse.map", "0,5")
		var buf bytes.Buffer
		writeBlocks(&buf, rawHeader("PaxHeaders/x", tar.TypeXHeader, len(pax)), pax)
		writeBlocks(&buf, rawHeader("sparse", tar.TypeReg, 5), "hello")
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name  string
		layer []byte
	}{
		{"old GNU, 50,000 extents", oldGNUSparseExt("sparse", many, 500_000, strings.Repeat("x", len(many)))},
		{"PAX 0.1, count 2^62", count(fmt.Sprint(int64(1) << 62))},
		{"PAX 0.1, count 2^63-1", count(fmt.Sprint(int64(1<<63 - 1)))},
		{"PAX 0.1, count -1", count("-1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layer := append(tc.layer, make([]byte, 1024)...)
			if _, err := readAllEntries(layer); err == nil {
				t.Fatalf("archive/tar reads %s", tc.name)
			}
			j := newJail(t)
			start := time.Now()
			_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
			j.check(t)
			if err == nil {
				t.Fatalf("Apply(%s) = nil, want an error", tc.name)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("Apply(%s) took %v", tc.name, took)
			}
		})
	}
}

// TestApplySparseGNUTar applies the archives GNU tar writes of a 300 GB lastlog in each of
// its sparse formats: the file comes out as it went in, at once, with its holes.
func TestApplySparseGNUTar(t *testing.T) {
	if out, err := exec.Command("tar", "--version").Output(); err != nil || !bytes.Contains(out, []byte("GNU tar")) {
		t.Skipf("needs GNU tar: %v", err)
	}
	const size = 300_000_000_000
	extents := [][2]int64{{0, 292}, {1000 * 292, 292}, {65534 * 292, 292}, {999_999_999 * 292, 292}}
	var data string
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "lastlog"))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range extents {
		rec := strings.Repeat(string(rune('p'+i)), int(e[1]))
		data += rec
		if _, err := f.WriteAt([]byte(rec), e[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, format := range [][]string{
		{"--format=gnu"},
		{"--format=posix", "--sparse-version=0.0"},
		{"--format=posix", "--sparse-version=0.1"},
		{"--format=posix", "--sparse-version=1.0"},
	} {
		t.Run(strings.Join(format, " "), func(t *testing.T) {
			args := append([]string{"--sparse", "-C", src, "-cf", "-"}, format...)
			layer, err := exec.Command("tar", append(args, "lastlog")...).Output()
			if err != nil {
				t.Fatalf("tar %v: %v", args, err)
			}
			j := newJail(t)
			start := time.Now()
			_, err = Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
			took := time.Since(start)
			j.check(t)
			if err != nil {
				t.Fatalf("Apply(tar %v) = %v", format, err)
			}
			if took > time.Second {
				t.Errorf("Apply(tar %v) took %v, want its holes skipped", format, took)
			}
			p := filepath.Join(j.root, "lastlog")
			checkSparseFile(t, p, extents, size, data)
			if used := allocated(t, p); used >= 256<<10 {
				t.Errorf("lastlog uses %d bytes on disk, want its holes kept", used)
			}
		})
	}
}
