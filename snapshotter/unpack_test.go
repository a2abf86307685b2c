package snapshotter

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/layers"
	"golang.org/x/sys/unix"
)

// newPlain is a vfs snapshotter that works without root (owners ignored when not root), for
// tests of Unpack and GC that mount nothing.
func newPlain(t *testing.T) *Snapshotter {
	t.Helper()
	root := filepath.Join(t.TempDir(), "snapshots")
	s, err := New(root, Options{Driver: VFS, Layer: layers.Options{IgnoreOwners: os.Geteuid() != 0}})
	if err != nil {
		t.Fatalf("New(%q) = %v", root, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpTree(t, root)
		}
	})
	return s
}

// layerDirs lists the layer dirs (64-hex names) in a snapshot root.
func layerDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if isHex64(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestUnpack(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, dir("etc/"), file("etc/os-release", "ID=test"))
	if s.Has(l.diffID) {
		t.Fatalf("Has(%s) = true before Unpack", short(l.diffID))
	}
	unpack(t, s, l)
	if !s.Has(l.diffID) {
		t.Fatalf("Has(%s) = false after Unpack", short(l.diffID))
	}
	wantContent(t, filepath.Join(s.LayerDir(l.diffID), "etc/os-release"), "ID=test")
	if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
		t.Errorf("temporary dirs left after Unpack: %q", tmps)
	}
	fi, err := os.Stat(s.LayerDir(l.diffID))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("layer dir mode %v, want 0755 (it is the container's /)", fi.Mode())
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestUnpackExistingDrains: a tee'd download writes into a pipe that Unpack reads; if Unpack
// returned without reading, the download would block.
func TestUnpackExistingDrains(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	unpack(t, s, l)
	r := &countingReader{r: bytes.NewReader(l.gz)}
	if err := s.Unpack(t.Context(), l.diffID, gzipLayer, r); err != nil {
		t.Fatalf("second Unpack = %v", err)
	}
	if r.n != len(l.gz) {
		t.Errorf("second Unpack read %d of %d bytes, want the stream drained", r.n, len(l.gz))
	}
}

// TestUnpackExistingChecked: the stream given for a layer whose dir exists is still checked
// to be that layer. Drained unchecked, any blob a manifest named with the DiffID of a layer
// already unpacked (a config, another layer, garbage) was taken for it, and the image stored
// with it was saved and pushed with that blob as its layer. The same layer gzipped otherwise
// is that layer; the existing dir is left as it is either way.
func TestUnpackExistingChecked(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	unpack(t, s, l)
	other := buildLayer(t, file("b", "b"))
	for name, stream := range map[string][]byte{
		"another layer": other.gz,
		"not a layer":   []byte(`{"architecture":"amd64"}`),
		"empty":         nil,
	} {
		r := &countingReader{r: bytes.NewReader(stream)}
		if err := s.Unpack(t.Context(), l.diffID, gzipLayer, r); !errors.Is(err, ErrDiffIDMismatch) {
			t.Errorf("Unpack of %s as an existing layer = %v, want ErrDiffIDMismatch", name, err)
		}
	}
	var regz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&regz, gzip.BestCompression)
	raw, err := io.ReadAll(mustGunzip(t, l.gz))
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(raw)
	zw.Close()
	if bytes.Equal(regz.Bytes(), l.gz) {
		t.Fatal("the layer gzipped again is the same blob")
	}
	if err := s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(regz.Bytes())); err != nil {
		t.Errorf("Unpack of the layer compressed otherwise = %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(s.LayerDir(l.diffID), "a")); err != nil || string(b) != "a" {
		t.Errorf("the layer dir after the checks: a = %q, %v", b, err)
	}
}

func mustGunzip(t *testing.T, b []byte) io.Reader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

func TestUnpackDiffIDMismatch(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	claimed := hashOf("something else")
	err := s.Unpack(t.Context(), claimed, gzipLayer, bytes.NewReader(l.gz))
	if !errors.Is(err, ErrDiffIDMismatch) {
		t.Fatalf("Unpack(wrong diffid) = %v, want ErrDiffIDMismatch", err)
	}
	if s.Has(claimed) || s.Has(l.diffID) {
		t.Errorf("a layer dir exists after a DiffID mismatch")
	}
	if dirs := layerDirs(t, s.Root()); len(dirs) > 0 {
		t.Errorf("layer dirs after a DiffID mismatch: %q", dirs)
	}
	if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
		t.Errorf("temporary dirs after a DiffID mismatch: %q", tmps)
	}
}

// failingReader returns its data up to n bytes, then err: a download that breaks midway.
type failingReader struct {
	data []byte
	n    int
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	k := copy(p, f.data[:min(len(f.data), f.n)])
	f.data, f.n = f.data[k:], f.n-k
	return k, nil
}

var errBroken = errors.New("connection reset")

func TestUnpackFailedStream(t *testing.T) {
	s := newPlain(t)
	// Big enough that the failure lands inside the tar, not in the gzip header.
	var big bytes.Buffer
	for range 64 << 10 {
		big.WriteString("0123456789abcdef")
	}
	l := buildLayer(t, file("small", "s"), file("big", big.String()))
	r := &failingReader{data: l.gz, n: len(l.gz) / 2, err: errBroken}
	err := s.Unpack(t.Context(), l.diffID, gzipLayer, r)
	if !errors.Is(err, errBroken) {
		t.Fatalf("Unpack(broken stream) = %v, want it to wrap the reader's error", err)
	}
	if s.Has(l.diffID) {
		t.Errorf("Has(%s) = true after a failed Unpack", short(l.diffID))
	}
	if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
		t.Errorf("temporary dirs after a failed Unpack: %q", tmps)
	}
	unpack(t, s, l)
	wantContent(t, filepath.Join(s.LayerDir(l.diffID), "small"), "s")
}

// TestUnpackTooDeep: symlink hops let a small layer nest directories deeper than any path can
// name; such a layer is refused, and leaves nothing that List and Prune could not walk.
func TestUnpackTooDeep(t *testing.T) {
	s := newPlain(t)
	chain := strings.TrimSuffix(strings.Repeat("d/", 600), "/")
	entries := []entry{dir(chain + "/")}
	prev := chain
	for i := range 3 {
		hop := fmt.Sprintf("hop%d", i)
		entries = append(entries, symlink(hop, prev), dir(hop+"/"+chain+"/"))
		prev = hop + "/" + chain
	}
	l := buildLayer(t, entries...)
	if err := s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(l.gz)); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Fatalf("Unpack(too deep) = %v, want ENAMETOOLONG", err)
	}
	if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
		t.Errorf("temporary dirs after a failed Unpack: %q", tmps)
	}
	if _, err := s.List(); err != nil {
		t.Errorf("List = %v", err)
	}
	if _, err := s.Prune(t.Context(), nil, false); err != nil {
		t.Errorf("Prune = %v", err)
	}
}

// TestUnpackAfterCrash: a process killed mid-unpack leaves .tmp-<hex>-*; it is invisible as a
// layer, and the next Unpack of that DiffID removes it.
func TestUnpackAfterCrash(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	stale := filepath.Join(s.Root(), tmpPrefix+l.diffID.Hex+"-123456")
	if err := os.MkdirAll(filepath.Join(stale, "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	if s.Has(l.diffID) {
		t.Fatalf("Has = true with only a temporary dir")
	}
	if layers, err := s.List(); err != nil || len(layers) != 0 {
		t.Errorf("List = %v, %v, want no layers while only a temporary dir exists", layers, err)
	}
	unpack(t, s, l)
	wantAbsent(t, stale)
	wantAbsent(t, filepath.Join(s.LayerDir(l.diffID), "half"))
}

// TestUnpackOverNonDir: a file or a symlink where a layer dir goes (damage: the dir replaced)
// is no layer, and the next Unpack of that DiffID puts the layer in its place, where the
// rename onto it failed with ENOTDIR for good. A symlink's target is left alone.
func TestUnpackOverNonDir(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name  string
		plant func(path string) error
	}{
		{"file", func(p string) error { return os.WriteFile(p, []byte("junk"), 0o644) }},
		{"symlink to a dir", func(p string) error { return os.Symlink(outside, p) }},
		{"dangling symlink", func(p string) error { return os.Symlink("/nonexistent", p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPlain(t)
			l := buildLayer(t, file("a", "layer"))
			if err := tc.plant(s.LayerDir(l.diffID)); err != nil {
				t.Fatal(err)
			}
			if s.Has(l.diffID) {
				t.Fatal("Has = true for a non-directory")
			}
			unpack(t, s, l)
			wantContent(t, filepath.Join(s.LayerDir(l.diffID), "a"), "layer")
			if entries, err := os.ReadDir(outside); err != nil || len(entries) != 0 {
				t.Errorf("the symlink's target was written to: %v, %v", entries, err)
			}
		})
	}
}

func TestUnpackConcurrentSameDiffID(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, dir("d/"), file("d/f", "content"))
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(l.gz))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Unpack #%d = %v", i, err)
		}
	}
	if dirs := layerDirs(t, s.Root()); len(dirs) != 1 || dirs[0] != l.diffID.Hex {
		t.Errorf("layer dirs = %q, want just %s", dirs, l.diffID.Hex)
	}
	if tmps := tmpDirs(t, s.Root()); len(tmps) > 0 {
		t.Errorf("temporary dirs left: %q", tmps)
	}
	wantContent(t, filepath.Join(s.LayerDir(l.diffID), "d/f"), "content")
}

func TestUnpackConcurrentDifferentDiffIDs(t *testing.T) {
	s := newPlain(t)
	var ls []layer
	for _, name := range []string{"a", "b", "c", "d"} {
		ls = append(ls, buildLayer(t, file(name, name)))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ls))
	for i, l := range ls {
		wg.Go(func() {
			errs[i] = s.Unpack(t.Context(), l.diffID, gzipLayer, bytes.NewReader(l.gz))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Unpack #%d = %v", i, err)
		}
		if !s.Has(ls[i].diffID) {
			t.Errorf("Has(layer #%d) = false", i)
		}
	}
}

func TestInvalidDiffID(t *testing.T) {
	s := newPlain(t)
	for _, h := range []v1.Hash{
		{Algorithm: "sha256", Hex: "../../etc"},
		{Algorithm: "sha512", Hex: hashOf("x").Hex},
		{Algorithm: "sha256", Hex: "ABCDEF" + hashOf("x").Hex[6:]},
		{},
	} {
		err := s.Unpack(t.Context(), h, gzipLayer, bytes.NewReader(nil))
		if !errors.Is(err, ErrInvalidDiffID) {
			t.Errorf("Unpack(%q) = %v, want ErrInvalidDiffID", h.String(), err)
		}
		if got := s.LayerDir(h); got != "" {
			t.Errorf("LayerDir(%q) = %q, want \"\"", h.String(), got)
		}
		if _, err := s.Prepare(t.Context(), filepath.Join(t.TempDir(), "c"), []v1.Hash{h}, false); !errors.Is(err, ErrInvalidDiffID) {
			t.Errorf("Prepare(%q) = %v, want ErrInvalidDiffID", h.String(), err)
		}
	}
}

func TestPrepareMissingLayer(t *testing.T) {
	s := newPlain(t)
	missing := hashOf("not unpacked")
	_, err := s.Prepare(t.Context(), filepath.Join(t.TempDir(), "c"), []v1.Hash{missing}, false)
	if !errors.Is(err, ErrLayerNotFound) {
		t.Errorf("Prepare(missing layer) = %v, want ErrLayerNotFound", err)
	}
}

func TestNewOptions(t *testing.T) {
	root := t.TempDir()
	if _, err := New(root, Options{Driver: "zfs"}); !errors.Is(err, ErrUnknownDriver) {
		t.Errorf("New(driver zfs) = %v, want ErrUnknownDriver", err)
	}
	if _, err := New(root, Options{Driver: VFS, Layer: layers.Options{Whiteouts: layers.WhiteoutKeep}}); err == nil {
		t.Errorf("New(whiteouts keep) = nil, want an error: such layer dirs cannot be lowers")
	}
	s, err := New(root, Options{})
	if err != nil {
		t.Fatalf("New(auto) = %v", err)
	}
	switch s.Driver() {
	case Overlay:
		if s.Warning() != "" {
			t.Errorf("Warning() = %q with the overlay driver, want none", s.Warning())
		}
	case VFS:
		if s.Warning() == "" {
			t.Errorf("auto picked vfs without a Warning")
		}
	default:
		t.Errorf("Driver() = %q, want overlay or vfs", s.Driver())
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// The probe leaves only the lock dir and, once overlay mounted, its marker.
		if e.Name() != locksDir && e.Name() != probeMarker {
			t.Errorf("New left %s in the root", e.Name())
		}
	}
}

func TestEnsure(t *testing.T) {
	s := newPlain(t)
	l := buildLayer(t, file("a", "a"))
	opens := 0
	open := func() (io.ReadCloser, error) {
		opens++
		return io.NopCloser(bytes.NewReader(l.gz)), nil
	}
	blob := blobOf(l.gz)
	for i := range 2 {
		if err := s.Ensure(t.Context(), l.diffID, blob, open); err != nil {
			t.Fatalf("Ensure #%d = %v", i, err)
		}
	}
	if opens != 1 {
		t.Errorf("Ensure opened the layer %d times, want once (then the layer dir exists)", opens)
	}
	errOpen := errors.New("blob missing")
	err := s.Ensure(t.Context(), hashOf("other"), blob, func() (io.ReadCloser, error) { return nil, errOpen })
	if !errors.Is(err, errOpen) {
		t.Errorf("Ensure(open fails) = %v, want the open error", err)
	}
}

// TestNewTightensRoot: a root that already exists open to others (made by hand, or by an older
// strata) is made 0700, as New makes a new one: layer dirs hold an image's setuid programs and
// device nodes, which host users must not reach.
func TestNewTightensRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "snapshots")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	link := root + "-link"
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	if _, err := New(link, Options{Driver: VFS}); err != nil {
		t.Fatalf("New(%s) = %v", link, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("root mode after New = %v, want 0700", perm)
	}
}
