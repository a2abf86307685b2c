package runner

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTailStartSparse: logs --tail of a log.json made sparse (a damaged store: 20 GiB of hole
// before its last lines) reads back only its data, not the hole 64 KiB at a time (a minute
// for 20 GiB), and finds the same lines: the hole holds no newline.
func TestTailStartSparse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := "a\nb\n"
	if _, err := f.WriteString(head); err != nil {
		t.Fatal(err)
	}
	const hole = 20 << 30
	if _, err := f.WriteAt([]byte("c\nd\n"), hole); err != nil {
		t.Skipf("no sparse file here: %v", err)
	}
	if d, err := unix.Seek(int(f.Fd()), 1<<20, unix.SEEK_DATA); err != nil || d < hole-(1<<20) {
		t.Skipf("the filesystem does not tell its holes: %d, %v", d, err)
	}
	reads := 0
	tailChunkRead = func() { reads++ }
	defer func() { tailChunkRead = func() {} }()
	for _, c := range []struct {
		n, seen int
		pos     int64
	}{
		{1, 1, hole + 2},
		{2, 2, 4}, // c's line starts with the hole, after b's
		{3, 3, 2},
		{4, 4, 0},
		{10, 4, 0}, // all it has
	} {
		reads = 0
		pos, seen, err := tailStart(f, c.n)
		if err != nil || pos != c.pos || seen != c.seen {
			t.Errorf("tailStart(%d) = %d, %d, %v; want %d, %d", c.n, pos, seen, err, c.pos, c.seen)
		}
		if reads > 8 {
			t.Errorf("tailStart(%d) read %d chunks of 64 KiB; want the data only, not the hole", c.n, reads)
		}
	}
}
