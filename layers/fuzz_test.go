package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// FuzzApply feeds arbitrary streams (tar, gzip, zstd or garbage) to Apply and asserts that it
// never panics and never touches anything outside the layer dir. Run it with
//
//	go test -run=^$ -fuzz=FuzzApply -fuzztime=20s ./layers
//
// Go minimizes every input that finds new coverage for up to a minute; on a busy machine add
// -fuzzminimizetime=10x so that a short run spends its time fuzzing.
func FuzzApply(f *testing.F) {
	seeds := [][]byte{
		sampleTar(f),
		tarOf(f,
			dir("etc/", 0o755),
			file("etc/.wh.motd", "", 0o644),
			dir("var/", 0o755),
			file("var/.wh..wh..opq", "", 0o644),
			file(".wh..wh.plnk", "", 0o644),
		),
		// A layer of docker's aufs driver: its metadata at the root, a pseudo-link and a
		// hard link to it.
		tarOf(f,
			file(".wh..wh.aufs", "", 0o444),
			dir(".wh..wh.orph/", 0o700),
			dir(".wh..wh.plnk/", 0o700),
			file(".wh..wh.plnk/262.1187", "plnk", 0o755),
			hardlink("usr/bin/a", ".wh..wh.plnk/262.1187"),
			hardlink("b", ".wh..wh.plnk/../../sentinel"),
		),
		tarOf(f,
			file("a", "x", 0o644),
			hardlink("b", "a"),
			hardlink("c", "../sentinel"),
			file("a", "y", 0o644),
		),
		tarOf(f,
			symlink("s", "../outside"),
			file("s/x", "escape?", 0o644),
			symlink("r", "/"),
			file("r/../outside/y", "escape?", 0o644),
			dir("d/", 0o555),
			file("d/f", "z", 0o4755),
		),
		tarOf(f, node("fifo", tar.TypeFifo, 0, 0), file("/abs/../x", "", 0o644)),
		gzipOf(f, sampleTar(f)),
		zstdOf(f, sampleTar(f)),
		// PAX records (xattrs, overlay's own among them), names past USTAR's 100 bytes in PAX
		// and GNU form, a hard link to a symlink that leaves the layer, and whiteouts and
		// writes through a symlinked directory.
		tarOf(f,
			file("x", "x", 0o644).with(func(h *tar.Header) {
				h.Format = tar.FormatPAX
				h.PAXRecords = map[string]string{"SCHILY.xattr.user.a": "v", "SCHILY.xattr.trusted.overlay.opaque": "y", "LIBARCHIVE.xattr.user.b": "dg"}
			}),
			file(strings.Repeat("p/", 60)+"long", "l", 0o644).with(func(h *tar.Header) { h.Format = tar.FormatPAX }),
			symlink(strings.Repeat("g", 120), "../../outside").with(func(h *tar.Header) { h.Format = tar.FormatGNU }),
			hardlink("hl", strings.Repeat("g", 120)),
			file("hl", "through?", 0o644),
			symlink("sd", "/.."),
			file("sd/.wh.sentinel", "", 0o644),
			file("sd/.wh..wh..opq", "", 0o644),
		),
	}
	// Sparse entries in each format GNU tar writes, followed by a plain file: Apply reads
	// their data by the map from under archive/tar (sparsemap.go).
	for _, sf := range sparseFormats {
		entry := sf.entry("sparse", [][2]int64{{0, 5}, {1 << 20, 5}}, 2<<20, "helloworld")
		seeds = append(seeds, append(append(entry, tarOf(f, file("after", "x", 0o644))...), make([]byte, 1024)...))
	}
	for i, s := range seeds {
		f.Add(s, uint8(i%3))
	}
	// One jail for the whole run, with a fresh layer dir per input: creating the witnesses
	// for every input would cost more than applying most inputs.
	j := newJail(f)
	f.Fuzz(func(t *testing.T, layer []byte, mode uint8) {
		if err := os.Mkdir(j.root, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			makeWritable(j.root)
			if err := os.RemoveAll(j.root); err != nil {
				t.Errorf("removing the layer dir: %v", err)
			}
		})
		opts := Options{
			MaxSize:      1 << 20,
			MaxEntries:   512,
			MinFreeBytes: -1,
			Whiteouts:    WhiteoutMode(mode % 3),
			IgnoreOwners: true,
		}
		got, err := Apply(context.Background(), j.root, bytes.NewReader(layer), opts)
		j.check(t)
		// A plain tar that applied has the DiffID of its bytes, all of them.
		if err == nil && Detect(layer) == Uncompressed {
			if want := sha256Hash(layer); got != want {
				t.Errorf("Apply() DiffID = %s, want %s", got, want)
			}
		}
	})
}
