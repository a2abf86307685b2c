package snapshotter

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// deepLayer is a layer of one directory chain as deep as a layer dir may nest (Apply keeps
// every directory that takes entries nameable by a path), with a file at the bottom.
func deepLayer(t *testing.T) layer {
	return buildLayer(t, file(strings.Repeat("d/", 1800)+"f", "deep"))
}

// withFewFiles runs f with the open-file limit lowered to 1,024, a common default, which a
// layer's 1,800 levels of directories exceed.
func withFewFiles(t *testing.T, f func()) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 1024
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}()
	f()
}

// TestPruneDeepLayer: a layer nests directories deeper than the process may open files
// (os.RemoveAll holds one per level): Prune must still delete its layer dir, as Remove
// deletes a container's deep tree (TestRemoveDeepTree). It failed with 'too many open
// files', every prune, and the layer's disk space was never given back.
func TestPruneDeepLayer(t *testing.T) {
	s := newPlain(t)
	l := deepLayer(t)
	unpack(t, s, l)
	var removed []Layer
	var err error
	withFewFiles(t, func() { removed, err = s.Prune(t.Context(), map[v1.Hash]bool{}, false) })
	if err != nil {
		t.Fatalf("Prune(1,800 levels, 1,024 files open at most) = %v", err)
	}
	if len(removed) != 1 || s.Has(l.diffID) {
		t.Errorf("Prune removed %v, Has = %v; want the layer gone", removed, s.Has(l.diffID))
	}
	if left := tmpDirs(t, s.Root()); len(left) > 0 {
		t.Errorf("Prune left %v", left)
	}
}

// TestUnpackFailedDeepLayer: a deep layer whose stream fails after its deep entries leaves
// no temporary dir, and the next Unpack of it works. The half layer stayed where
// os.RemoveAll ran out of files, and every later Unpack of the DiffID failed removing it.
func TestUnpackFailedDeepLayer(t *testing.T) {
	s := newPlain(t)
	l := deepLayer(t)
	// The layer cut in the middle of its last blocks: Apply fails after the deep entry.
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	name := strings.Repeat("d/", 1800) + "f"
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 4, Format: tar.FormatPAX}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("deep")); err != nil {
		t.Fatal(err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "g", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	cut := layerOf(t, raw.Bytes())
	var err error
	withFewFiles(t, func() {
		err = s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(cut.gz))
	})
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Unpack(cut layer) = %v, want %v", err, io.ErrUnexpectedEOF)
	}
	if left := tmpDirs(t, s.Root()); len(left) > 0 {
		t.Errorf("a failed Unpack left %v", left)
	}
	withFewFiles(t, func() { err = s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(l.gz)) })
	if err != nil {
		t.Fatalf("Unpack after the failed one = %v", err)
	}
	wantContent(t, filepath.Join(s.LayerDir(l.diffID), name), "deep")
}

// TestVFSPrepareDeepWhiteout: the vfs copy deletes what a whiteout names below, however deep:
// a lower layer's 1,800 levels that the upper layer whites out failed the copy with 'too many
// open files' (os.RemoveAll), so the image could not run.
func TestVFSPrepareDeepWhiteout(t *testing.T) {
	s := newPlain(t)
	lower, upper := deepLayer(t), buildLayer(t, file(".wh.d", ""), file("top", "top"))
	unpack(t, s, lower)
	unpack(t, s, upper)
	cdir := filepath.Join(t.TempDir(), "c")
	var err error
	withFewFiles(t, func() { _, err = s.Prepare(t.Context(), cdir, []v1.Hash{lower.diffID, upper.diffID}, false) })
	if err != nil {
		t.Fatalf("Prepare(1,800 levels whited out, 1,024 files open at most) = %v", err)
	}
	wantAbsent(t, filepath.Join(cdir, rootfsDir, "d"))
	wantContent(t, filepath.Join(cdir, rootfsDir, "top"), "top")
}

// TestRemoveDeepWideIsLinear: removeDeep, the fallback of removeAll for deep trees, read a
// directory again from its start after each subdirectory it removed, which took time
// quadratic in their number (50,000 subdirectories: 51 s, where os.RemoveAll takes 7). Its
// time is measured against os.RemoveAll's on the same tree.
func TestRemoveDeepWideIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 50,000 directories")
	}
	const wide = 25000
	tree := func() string {
		dir := filepath.Join(t.TempDir(), "tree")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		for i := range wide {
			if err := unix.Mkdirat(fd, "w"+strconv.Itoa(i), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	a, b := tree(), tree()
	start := time.Now()
	if err := os.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	base := time.Since(start)
	start = time.Now()
	if err := removeDeep(b); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d > 3*base+time.Second {
		t.Errorf("removeDeep(%d subdirectories) took %v, os.RemoveAll %v", wide, d, base)
	}
	t.Logf("removeDeep %v, os.RemoveAll %v", d, base)
	wantAbsent(t, b)
}
