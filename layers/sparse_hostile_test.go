package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// gnuSparseHeader is an old GNU format sparse header ('S'): extents (offset, length) in the
// header itself, realsize the file's size. archive/tar writes no sparse entries, so the block
// is built by hand after GNU tar's layout (the gnu header of archive/tar's format.go).
func gnuSparseHeader(name string, extents [][2]int64, realsize int64) []byte {
	var stored int64
	for _, e := range extents {
		stored += e[1]
	}
	b := rawHeader(name, tar.TypeGNUSparse, int(stored))
	copy(b[257:265], "ustar  \x00")
	for i, e := range extents {
		copy(b[386+24*i:], fmt.Sprintf("%011o\x00%011o\x00", e[0], e[1]))
	}
	copy(b[483:495], fmt.Sprintf("%011o\x00", realsize))
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// paxSparse01 is a PAX 0.1 sparse entry: the map in one GNU.sparse.map record.
func paxSparse01(name, sparseMap string, realsize int64, body string) []byte {
	pax := paxRecord("GNU.sparse.size", fmt.Sprint(realsize)) +
		paxRecord("GNU.sparse.numblocks", fmt.Sprint(strings.Count(sparseMap, ",")/2+1)) +
		paxRecord("GNU.sparse.map", sparseMap) +
		paxRecord("GNU.sparse.name", name)
	var buf bytes.Buffer
	writeBlocks(&buf, rawHeader("PaxHeaders/x", tar.TypeXHeader, len(pax)), pax)
	writeBlocks(&buf, rawHeader("GNUSparseFile.0/x", tar.TypeReg, len(body)), body)
	return buf.Bytes()
}

// TestApplySparseFormats applies the other sparse formats GNU tar writes, and sparse maps no
// honest writer makes: extents past the end, overlapping or out of order, a size that
// disagrees with the data. Good ones come out as the file with its hole kept; bad ones fail
// without a panic or a file past MaxSize.
func TestApplySparseFormats(t *testing.T) {
	const hole = 8 << 20
	end := make([]byte, 1024)
	gnu := func(extents [][2]int64, realsize int64, data string) []byte {
		var buf bytes.Buffer
		writeBlocks(&buf, gnuSparseHeader("lastlog", extents, realsize), data)
		buf.Write(end)
		return buf.Bytes()
	}
	pax := func(sparseMap string, realsize int64, data string) []byte {
		return append(paxSparse01("lastlog", sparseMap, realsize, data), end...)
	}
	tests := []struct {
		name   string
		layer  []byte
		wantOK bool
	}{
		{"old GNU", gnu([][2]int64{{hole, 5}}, hole+5, "hello"), true},
		{"PAX 0.1", pax(fmt.Sprintf("%d,5", hole), hole+5, "hello"), true},
		{"old GNU, extent past the end", gnu([][2]int64{{hole, 5}}, 3, "hello"), false},
		{"old GNU, overlapping extents", gnu([][2]int64{{hole, 5}, {hole + 2, 5}}, hole+7, "hellohello"), false},
		{"old GNU, extents out of order", gnu([][2]int64{{hole, 5}, {0, 5}}, hole+5, "hellohello"), false},
		{"old GNU, less data than the map", gnu([][2]int64{{hole, 5}}, hole+5, "hello")[:512+3], false},
		{"PAX 0.1, extent past the end", pax(fmt.Sprintf("%d,5", hole), 3, "hello"), false},
		{"PAX 0.1, negative extent", pax("-5,5", hole, "hello"), false},
		{"PAX 0.1, odd map", pax(fmt.Sprintf("%d,5,7", hole), hole+5, "hello"), false},
		{"PAX 0.1, realsize past MaxSize", pax("0,5", 1<<40, "hello"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJail(t)
			_, err := Apply(context.Background(), j.root, bytes.NewReader(tc.layer), Options{IgnoreOwners: true, MaxSize: 64 << 20})
			j.check(t)
			p := filepath.Join(j.root, "lastlog")
			if !tc.wantOK {
				if err == nil {
					t.Fatalf("Apply(%s) = nil, want an error", tc.name)
				}
				if fi, err := os.Stat(p); err == nil && fi.Size() > 64<<20 {
					t.Errorf("Apply(%s) left a %d-byte file, MaxSize is 64 MiB", tc.name, fi.Size())
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply(%s) = %v", tc.name, err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != hole+5 || string(b[hole:]) != "hello" || strings.Trim(string(b[:hole]), "\x00") != "" {
				t.Fatalf("ReadFile(lastlog) = %d bytes ending %q, want 8 MiB of zeros then hello", len(b), b[max(0, len(b)-5):])
			}
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if used := st.Blocks * 512; used >= 1<<20 {
				t.Errorf("lastlog uses %d bytes on disk, want the hole kept sparse", used)
			}
		})
	}
}
