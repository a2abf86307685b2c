package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestApplyDirNamesDoNotPinHeaders: a directory's deferred metadata keeps its name, and only
// its name: archive/tar hands out names that share memory with the whole PAX block they came
// in, up to 1 MiB each, so a layer of padded directory entries would hold a MiB per entry.
func TestApplyDirNamesDoNotPinHeaders(t *testing.T) {
	const dirs = 64
	pad := strings.Repeat("p", 900<<10)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range dirs {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: strings.Repeat("d", 200) + string(rune('A'+i)) + "/", Mode: 0o755,
			PAXRecords: map[string]string{"comment": pad}}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var heap uint64
	opts := Options{IgnoreOwners: true, Progress: func(int64, int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc
	}}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(buf.Bytes()), opts); err != nil {
		t.Fatal(err)
	}
	if grew := int64(heap) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Errorf("heap grew by %d MiB applying %d directory entries, want a few KiB", grew>>20, dirs)
	}
}

// TestApplyDirMetaBounded: past deferredMax, directories get their metadata at once instead
// of holding memory until the end, so a layer of many directories with long names cannot
// make Apply hold gigabytes; the directories still get their modes and times.
func TestApplyDirMetaBounded(t *testing.T) {
	old := deferredMax
	deferredMax = 256 << 10
	t.Cleanup(func() { deferredMax = old })
	const dirs = 4000
	parent := strings.TrimSuffix(strings.Repeat(strings.Repeat("p", 250)+"/", 7), "/")
	var entries []ent
	for i := range dirs {
		base := fmt.Sprintf("%0240d", i)
		entries = append(entries, dir(parent+"/"+base+"/", 0o751))
	}
	entries = append(entries, dir("ro/", 0o555), file("ro/f", "x", 0o644))
	layer := tarOf(t, entries...)
	var heap uint64
	opts := Options{IgnoreOwners: os.Geteuid() != 0, Progress: func(int64, int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc
	}}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	j := newJail(t)
	if _, err := Apply(context.Background(), j.root, bytes.NewReader(layer), opts); err != nil {
		t.Fatal(err)
	}
	j.check(t)
	// The names alone are 8 MiB; what is held beyond the layer's own bytes must stay near
	// the bound (plus the read-ahead's 1 MiB of buffers).
	grew := int64(heap) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d KiB", grew>>10)
	if grew > 4<<20 {
		t.Errorf("heap grew by %d KiB applying %d directories, want at most about %d KiB", grew>>10, dirs, deferredMax>>10)
	}
	for _, i := range []int{0, dirs - 1} {
		name := parent + "/" + fmt.Sprintf("%0240d", i)
		wantMode(t, j.root, name, fs.ModeDir|0o751)
		wantMtime(t, j.root, name, testTime)
	}
	if os.Geteuid() == 0 {
		wantMode(t, j.root, "ro", fs.ModeDir|0o555)
		wantFile(t, j.root, "ro/f", "x", 0o644)
	}
}
