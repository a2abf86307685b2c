package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestApplySparseHoleSumWraps: the holes of two sparse entries, the second of a size near
// 2^63, must not wrap the layer's hole count past its budget (a file of exabytes on a
// filesystem that takes one).
func TestApplySparseHoleSumWraps(t *testing.T) {
	for _, f := range skippingFormats {
		t.Run(f.name, func(t *testing.T) {
			layer := append(f.entry("a", [][2]int64{{0, 1}}, 8<<40, "a"), f.entry("b", [][2]int64{{0, 1}}, 1<<63-1, "b")...)
			layer = append(layer, make([]byte, 1024)...)
			j := newJail(t)
			_, err := Apply(context.Background(), j.root, bytes.NewReader(layer), Options{IgnoreOwners: true})
			j.check(t)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("Apply(8 TiB of holes, then 2^63-1 bytes) = %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestPax10MapSearchIsBounded: the blocks archive/tar reads during Next may be megabytes with
// valid header checksums and no newline (a skipped body, a long name); looking for a PAX 1.0
// map's count line from each of them must not scan to the end each time: past a bound the
// entry takes the slow path. A count line of leading zeros, which archive/tar takes, is read.
func TestPax10MapSearchIsBounded(t *testing.T) {
	block := rawHeader("x", tar.TypeReg, 0) // a valid checksum, no newline
	mapBlock := append([]byte("1\n0\n1\n"), make([]byte, blockSize-6)...)
	tail := append(bytes.Repeat(block, 4096), mapBlock...)
	start := time.Now()
	frags, ok := pax10SparseMap(tail)
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("pax10SparseMap over 2 MiB of header blocks took %v", took)
	}
	if ok {
		t.Errorf("pax10SparseMap over 2 MiB of header blocks = %v, want the slow path", frags)
	}
	if frags, ok := pax10SparseMap(append(bytes.Clone(block), mapBlock...)); !ok || len(frags) != 1 || frags[0] != (fragment{0, 1}) {
		t.Errorf("pax10SparseMap after one header = %v, %v; want its one fragment", frags, ok)
	}
	long := append(bytes.Clone(block), []byte(strings.Repeat("0", 4096)+"1\n0\n1\n")...)
	long = append(long, make([]byte, -len(long)&(blockSize-1))...)
	if frags, ok := pax10SparseMap(long); !ok || len(frags) != 1 || frags[0] != (fragment{0, 1}) {
		t.Errorf("pax10SparseMap with a count of 4096 leading zeros = %v, %v; want its one fragment", frags, ok)
	}
}

// TestSparseContentRead: a sparseContent read as an io.Reader gives what archive/tar's Read
// gives, holes as zeros, and archive/tar then skips its data as checked.
func TestSparseContentRead(t *testing.T) {
	extents := [][2]int64{{3, 4}, {5000, 2}}
	for _, f := range skippingFormats {
		t.Run(f.name, func(t *testing.T) {
			layer := append(f.entry("s", extents, 6000, "abcdxy"), make([]byte, 1024)...)
			want, err := io.ReadAll(firstEntry(t, tar.NewReader(bytes.NewReader(layer))))
			if err != nil {
				t.Fatal(err)
			}
			raw := &rawReader{r: bytes.NewReader(layer)}
			tr := tar.NewReader(raw)
			raw.startNext()
			hdr, err := tr.Next()
			raw.endNext()
			if err != nil {
				t.Fatal(err)
			}
			c := sparseContentOf(raw, hdr)
			if c == nil {
				t.Fatal("sparseContentOf = nil for an entry whose map can be found")
			}
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Read = %d bytes, %v; want archive/tar's %d bytes", len(got), err, len(want))
			}
			if err := c.finish(); err != nil {
				t.Fatal(err)
			}
			raw.startNext()
			_, err = tr.Next()
			raw.endNext()
			if err != io.EOF {
				t.Errorf("Next after the entry = %v, want io.EOF", err)
			}
		})
	}
}

func firstEntry(t *testing.T, tr *tar.Reader) io.Reader {
	t.Helper()
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	return tr
}
