package layers

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// testTime is the mtime test entries get unless a row sets one; far from "now" so that a time
// the extractor failed to set shows up. Whole seconds: USTAR headers keep no more.
var testTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// ent is one tar entry of a test layer.
type ent struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, ModTime: testTime}, body: body}
}

func dir(name string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: testTime}}
}

func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}

func hardlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}}
}

func node(name string, typ byte, major, minor int64) ent {
	return ent{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o644, Devmajor: major, Devminor: minor, ModTime: testTime}}
}

// with returns e after f changed its header.
func (e ent) with(f func(h *tar.Header)) ent {
	f(&e.hdr)
	return e
}

// tarOf builds an uncompressed tar of entries.
func tarOf(t testing.TB, entries ...ent) []byte {
	t.Helper()
	b, err := tarBytes(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tarBytes(entries ...ent) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("writing tar header %q: %w", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			return nil, fmt.Errorf("writing tar body %q: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar: %w", err)
	}
	return buf.Bytes(), nil
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jail is a layer dir with witnesses around it: a sentinel file and an empty directory next to
// it. An escape shows up as a change to either, or a new name beside the layer dir.
type jail struct {
	base, root, outside, sentinel string
}

const sentinelBody = "untouched"

func newJail(t testing.TB) jail {
	t.Helper()
	base := t.TempDir()
	j := jail{
		base:     base,
		root:     filepath.Join(base, "root"),
		outside:  filepath.Join(base, "outside"),
		sentinel: filepath.Join(base, "sentinel"),
	}
	for _, d := range []string{j.root, j.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if f, ok := t.(*testing.F); ok {
		// FuzzApply makes the layer dir per input.
		if err := os.Remove(j.root); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(j.sentinel, []byte(sentinelBody), 0o644); err != nil {
		t.Fatal(err)
	}
	// Runs before TempDir's removal: layers may leave read-only directories, which a non-root
	// user could not empty.
	t.Cleanup(func() { makeWritable(base) })
	return j
}

// makeWritable adds owner rwx to every directory under dir, never following symlinks.
func makeWritable(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		if err != nil && d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
			return nil
		}
		return nil
	})
}

// check fails t when anything outside the layer dir changed.
func (j jail) check(t testing.TB) {
	t.Helper()
	names, err := os.ReadDir(j.base)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range names {
		got = append(got, n.Name())
	}
	if want := []string{"outside", "root", "sentinel"}; !slices.Equal(got, want) {
		t.Errorf("next to the layer dir: %v, want %v", got, want)
	}
	if b, err := os.ReadFile(j.sentinel); err != nil || string(b) != sentinelBody {
		t.Errorf("sentinel = %q, %v; want %q", b, err, sentinelBody)
	}
	if fi, err := os.Lstat(j.sentinel); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("sentinel is no longer a regular file: %v, %v", fi, err)
	}
	if inside, err := os.ReadDir(j.outside); err != nil || len(inside) != 0 {
		t.Errorf("outside dir holds %v, %v; want it empty", inside, err)
	}
}
