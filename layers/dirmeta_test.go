package layers

import (
	"archive/tar"
	"bytes"
	"context"
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
