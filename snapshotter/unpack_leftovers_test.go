package snapshotter

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/strata-run/strata/layers"
)

// countRootListings makes readDir count its listings of root until the test ends.
func countRootListings(t testing.TB, root string) *atomic.Int64 {
	var n atomic.Int64
	orig := readDir
	readDir = func(dir string) ([]os.DirEntry, error) {
		if dir == root {
			n.Add(1)
		}
		return orig(dir)
	}
	t.Cleanup(func() { readDir = orig })
	return &n
}

// TestUnpackListsRootOnce: the unpacks of one Snapshotter (one pull) list the layer root for
// the leftovers of killed unpacks once, not once per layer: the root holds a dir per layer,
// and a pull of a 3000-layer image spent a third of its time listing it. Every layer's
// leftover is still removed, the later layers' too, and a leftover of a layer this pull does
// not unpack is left for prune.
func TestUnpackListsRootOnce(t *testing.T) {
	s := newPlain(t)
	listings := countRootListings(t, s.Root())
	var ls []layer
	for i := range 5 {
		ls = append(ls, buildLayer(t, file(fmt.Sprintf("f%d", i), "x")))
	}
	var stale []string
	for _, l := range ls[2:] {
		p := filepath.Join(s.Root(), tmpPrefix+l.diffID.Hex+"-99")
		if err := os.MkdirAll(filepath.Join(p, "half"), 0o755); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, p)
	}
	other := filepath.Join(s.Root(), tmpPrefix+hashOf("not pulled").Hex+"-7")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		unpack(t, s, l)
	}
	if n := listings.Load(); n != 1 {
		t.Errorf("the layer root was listed %d times for %d unpacks, want once", n, len(ls))
	}
	for _, p := range stale {
		wantAbsent(t, p)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("leftover of a layer not unpacked: %v, want it left for prune", err)
	}
	for _, l := range ls {
		if !s.Has(l.diffID) {
			t.Errorf("Has(%s) = false after Unpack", short(l.diffID))
		}
	}
}

// TestUnpackAfterCrashNewProcess: a Snapshotter opened later (the next pull) sweeps what a
// pull killed after this one listed the root left.
func TestUnpackAfterCrashNewProcess(t *testing.T) {
	s := newPlain(t)
	a, b := buildLayer(t, file("a", "a")), buildLayer(t, file("b", "b"))
	unpack(t, s, a)
	// A pull killed now, after s listed the root.
	stale := filepath.Join(s.Root(), tmpPrefix+b.diffID.Hex+"-31337")
	if err := os.MkdirAll(filepath.Join(stale, "half"), 0o755); err != nil {
		t.Fatal(err)
	}
	next, err := New(s.Root(), Options{Driver: VFS, Layer: s.layer})
	if err != nil {
		t.Fatal(err)
	}
	unpack(t, next, b)
	wantAbsent(t, stale)
}

// BenchmarkUnpackManyLayers unpacks small layers into a root that already holds many layer
// dirs, as a pull of a many-layer image does: the per-layer cost must not grow with the
// number of dirs there.
func BenchmarkUnpackManyLayers(b *testing.B) {
	for _, existing := range []int{10, 3000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			root := filepath.Join(b.TempDir(), "snapshots")
			s, err := New(root, Options{Driver: VFS, Layer: layers.Options{IgnoreOwners: os.Geteuid() != 0}})
			if err != nil {
				b.Fatal(err)
			}
			for i := range existing {
				if err := os.Mkdir(filepath.Join(root, hashOf(fmt.Sprint("existing", i)).Hex), 0o755); err != nil {
					b.Fatal(err)
				}
			}
			i := 0
			for b.Loop() {
				l := buildLayer(b, file("f", fmt.Sprint(i)))
				i++
				if err := s.Unpack(b.Context(), l.diffID, gzipLayer, bytes.NewReader(l.gz)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
