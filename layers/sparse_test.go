package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sparseTar is a PAX 1.0 GNU sparse entry, as `tar --sparse --format=posix` writes it: the PAX
// records name the real file, its content starts with the map (one 5-byte extent at 8 MiB).
// archive/tar's writer refuses GNU.sparse records, so the blocks are built by hand.
func sparseTar(t testing.TB) []byte {
	t.Helper()
	var pax strings.Builder
	for _, kv := range [][2]string{
		{"GNU.sparse.major", "1"},
		{"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", "var/log/lastlog"},
		{"GNU.sparse.realsize", "8388613"},
	} {
		pax.WriteString(paxRecord(kv[0], kv[1]))
	}
	sparseMap := "1\n8388608\n5\n"
	body := sparseMap + strings.Repeat("\x00", 512-len(sparseMap)) + "hello"
	var buf bytes.Buffer
	writeBlocks(&buf, rawHeader("PaxHeaders/lastlog", tar.TypeXHeader, pax.Len()), pax.String())
	writeBlocks(&buf, rawHeader("GNUSparseFile.0/lastlog", tar.TypeReg, len(body)), body)
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

// paxRecord formats "len key=value\n", where len counts the whole record, itself included.
func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3
	for n != len(strconv.Itoa(n))+len(k)+len(v)+3 {
		n = len(strconv.Itoa(n)) + len(k) + len(v) + 3
	}
	return strconv.Itoa(n) + " " + k + "=" + v + "\n"
}

// rawHeader is a minimal ustar header block.
func rawHeader(name string, typ byte, size int) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], fmt.Sprintf("%011o\x00", testTime.Unix()))
	b[156] = typ
	copy(b[257:265], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// writeBlocks writes a header and its content padded to 512 bytes.
func writeBlocks(buf *bytes.Buffer, hdr []byte, body string) {
	buf.Write(hdr)
	buf.WriteString(body)
	if pad := len(body) % 512; pad != 0 {
		buf.Write(make([]byte, 512-pad))
	}
}

func TestApplySparse(t *testing.T) {
	j := newJail(t)
	if _, err := Apply(context.Background(), j.root, bytes.NewReader(sparseTar(t)), Options{IgnoreOwners: true}); err != nil {
		t.Fatalf("Apply(sparse) = %v", err)
	}
	j.check(t)
	p := filepath.Join(j.root, "var/log/lastlog")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8<<20+5 || string(b[8<<20:]) != "hello" || strings.Trim(string(b[:8<<20]), "\x00") != "" {
		t.Fatalf("ReadFile(lastlog) = %d bytes ending %q, want 8 MiB of zeros then hello", len(b), b[max(0, len(b)-5):])
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	// The filesystem may round up to its block size, but not store the 8 MiB hole.
	if used := st.Blocks * 512; used >= 1<<20 {
		t.Errorf("lastlog uses %d bytes on disk, want the hole kept sparse", used)
	}
}
