package snapshotter

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// sizeBenchTree makes a tree of 20,000 files of 0 to 99 bytes in 220 directories two levels
// deep, one in 50 of them hard-linked, as a container's writes or a layer could be.
func sizeBenchTree(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	for i := 0; i < 20; i++ {
		for j := 0; j < 10; j++ {
			d := filepath.Join(dir, "d"+strconv.Itoa(i), "e"+strconv.Itoa(j))
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
			for k := 0; k < 100; k++ {
				p := filepath.Join(d, "f"+strconv.Itoa(k))
				if k%50 == 49 {
					if err := os.Link(filepath.Join(d, "f0"), p); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if err := os.WriteFile(p, make([]byte, k), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return dir
}

// BenchmarkFilesSize measures a tree of 20,000 files as ps -s and system df measure a
// container's writes.
func BenchmarkFilesSize(b *testing.B) {
	dir := sizeBenchTree(b)
	for b.Loop() {
		if _, err := FilesSize(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirSize measures a tree of 20,000 files as system df measures a layer.
func BenchmarkDirSize(b *testing.B) {
	dir := sizeBenchTree(b)
	for b.Loop() {
		if _, err := DirSize(dir); err != nil {
			b.Fatal(err)
		}
	}
}
