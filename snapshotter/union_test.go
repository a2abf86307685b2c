package snapshotter

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// chainLayers makes a top layer dir, empty, and lowers layer dirs that each hold the
// directories a, a/a, … depth deep; it returns them top first and the deepest path.
func chainLayers(t *testing.T, lowers, depth int) (layers []string, deepest string) {
	t.Helper()
	deepest = strings.Repeat("/a", depth)
	layers = []string{t.TempDir()}
	for range lowers {
		l := t.TempDir()
		if err := os.MkdirAll(l+deepest, 0o755); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	return layers, deepest
}

// TestUnionFSWorkIsLinear counts the lstats of layer entries (no timing) that resolving a
// deep path, and making the mount points of nested targets a, a/a, … in one view, take:
// a bounded number per component and layer. Looking every prefix up from the root took
// about depth²/2 per layer for the first, and depth³/6 for the nested targets: an image
// WORKDIR of 2046 components spun for 12 minutes.
func TestUnionFSWorkIsLinear(t *testing.T) {
	for _, depth := range []int{100, 500} {
		layers, deepest := chainLayers(t, 3, depth)
		// Each component: one lstat in each layer holding its parent.
		bound := len(layers) * depth

		u := newUnionFS(t.Context(), layers)
		rel, n, err := u.resolve(deepest)
		if err != nil || rel != deepest || n == nil {
			t.Fatalf("resolve(%d components) = %.20q…, %v", depth, rel, err)
		}
		if u.lstats > bound {
			t.Errorf("resolve(%d components) took %d lstats, want at most %d", depth, u.lstats, bound)
		}

		// The targets the image has, then as many it lacks below them, each one deeper.
		u = newUnionFS(t.Context(), layers)
		var targets []string
		for i := 1; i <= depth; i++ {
			targets = append(targets, strings.Repeat("/a", i))
		}
		for i := 1; i <= depth; i++ {
			targets = append(targets, deepest+strings.Repeat("/b", i))
		}
		// The lowers' chain once, as the chain resolved above, and nothing for the
		// directories made: they are new, empty but for what is made next.
		want := bound
		for i, target := range targets {
			if err := u.addMountpoint(mount.Mount{Type: "tmpfs", Target: target}); err != nil {
				t.Fatalf("addMountpoint(%.20q…) = %v", target, err)
			}
			if u.lstats > want {
				t.Fatalf("addMountpoint of %d nested targets took %d lstats, want at most %d", i+1, u.lstats, want)
			}
		}
		if st, err := os.Stat(layers[0] + targets[len(targets)-1]); err != nil || !st.IsDir() {
			t.Fatalf("deepest mount point in the top layer: %v", err)
		}
	}
}

// naiveUnion is the view as strata resolved it before unionFS: every name looked up from the
// root, through securejoin. Slow, and plain: the reference unionFS must agree with.
type naiveUnion struct{ layers []string }

func (u naiveUnion) lookup(rel string) []string {
	rel = path.Clean("/" + rel)
	if rel == "/" {
		return u.layers
	}
	parents := u.lookup(path.Dir(rel))
	if len(parents) == 0 {
		return nil
	}
	if st, err := os.Lstat(filepath.Join(parents[0], path.Dir(rel))); err != nil || !st.IsDir() {
		return nil
	}
	var found []string
	for _, l := range parents {
		p := filepath.Join(l, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		mode := st.Mode & unix.S_IFMT
		switch {
		case mode == unix.S_IFCHR && st.Rdev == 0:
			return found
		case mode != unix.S_IFDIR:
			if len(found) == 0 {
				return []string{l}
			}
			return found
		}
		found = append(found, l)
		if isOpaque(p) {
			return found
		}
	}
	return found
}

func (u naiveUnion) rel(name string) string {
	return path.Clean("/" + strings.TrimPrefix(name, "/union"))
}

func (u naiveUnion) Lstat(name string) (os.FileInfo, error) {
	layers := u.lookup(u.rel(name))
	if len(layers) == 0 {
		return nil, fs.ErrNotExist
	}
	return os.Lstat(filepath.Join(layers[0], u.rel(name)))
}

func (u naiveUnion) Readlink(name string) (string, error) {
	layers := u.lookup(u.rel(name))
	if len(layers) == 0 {
		return "", fs.ErrNotExist
	}
	return os.Readlink(filepath.Join(layers[0], u.rel(name)))
}

// TestUnionFSAgreesWithSecureJoin: in a view of whiteouts, opaque dirs, files with would-be
// children, symlinks (relative, absolute, through "..", out of the root, in loops) and names
// that are prefixes of others, one unionFS that resolves targets in random orders, and
// makes mount points between rounds, answers as securejoin does over the naive view: the
// same path, the same layers, the same failures.
func TestUnionFSAgreesWithSecureJoin(t *testing.T) {
	s, base := newTestSnapshotter(t, drivers[0])
	bottom := buildLayer(t,
		dir("a/"), dir("a/b/"), file("a/b/f", "f"), dir("ab/"), file("ab/g", "g"),
		dir("gone/"), file("gone/x", "x"),
		dir("opq/"), dir("opq/old/"), file("opq/keep", "k"),
		file("file", "file"), symlink("link", "a/b"), symlink("abs", "/ab"),
		symlink("up", "../../../ab"), symlink("a/b/back", "../../d/e"),
		symlink("loop1", "loop2"), symlink("loop2", "/loop1"),
		symlink("chain", "link/../../abs"), symlink("tofile", "/file"),
		dir("d/"), dir("d/e/"), dir("d/e/f/"),
	)
	top := buildLayer(t,
		file(".wh.gone", ""),
		dir("opq/"), file("opq/.wh..wh..opq", ""), file("opq/new", "n"),
		dir("a/"), file("a/c", "c"), symlink("a/c2", "c"),
		dir("d/"), dir("d/e/"), file("d/e/z", "z"), symlink("d/e/zz", "../../abs/g"),
	)
	unpack(t, s, bottom)
	unpack(t, s, top)
	diffIDs := []v1.Hash{bottom.diffID, top.diffID}
	cdir := filepath.Join(base, "containers", "c1")
	if _, err := s.Prepare(t.Context(), cdir, diffIDs, true); err != nil {
		t.Fatal(err)
	}
	u, err := s.imageView(t.Context(), cdir, diffIDs)
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{"/", "", "a", "/a/b", "/a/b/f", "/a/c", "/a/c2", "/ab", "/ab/g", "/gone",
		"/gone/x", "/opq", "/opq/old", "/opq/keep", "/opq/new", "/file", "/file/x", "/file/x/y",
		"/link", "/link/f", "/link/back/z", "/abs/g", "/up", "/up/g", "/loop1", "/loop1/x",
		"/chain", "/chain/g", "/tofile/x", "/d/e/zz", "/d/e/f/nope/deeper", "/nope", "/nope/../a",
		"/a/../ab", "/d/e/../../a/c", "/../../a//./b/", "/link/../../../../ab/g"}
	mounts := []string{"/new/x", "/a/b/m", "/link/n", "/d/e/f/g/h", "/opq/old/x", "/up/p"}
	r := rand.New(rand.NewPCG(1, 2))
	for round := range len(mounts) + 1 {
		oracle := naiveUnion{layers: u.layers}
		r.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
		for _, target := range targets {
			rel, n, err := u.resolve(target)
			joined, werr := securejoin.SecureJoinVFS("/union", target, oracle)
			if (err != nil) != (werr != nil) {
				t.Fatalf("round %d: resolve(%q) = %v, securejoin = %v", round, target, err, werr)
			}
			if err != nil {
				if !errors.Is(werr, err) {
					t.Errorf("round %d: resolve(%q) = %v, securejoin = %v", round, target, err, werr)
				}
				continue
			}
			wantRel := oracle.rel(joined)
			var got []string
			if n != nil {
				got = n.layers
			}
			if want := oracle.lookup(wantRel); rel != wantRel || !slices.Equal(got, want) {
				t.Errorf("round %d: resolve(%q) = %q in %v, securejoin: %q in %v", round, target, rel, got, wantRel, want)
			}
		}
		if round < len(mounts) {
			if err := u.addMountpoint(mount.Mount{Type: "tmpfs", Target: mounts[round]}); err != nil {
				t.Fatalf("addMountpoint(%q) = %v", mounts[round], err)
			}
			targets = append(targets, mounts[round])
		}
	}
}

// TestUnionFSCancel: a cancel that lands in the middle of resolving a deep path ends
// AddMountpoints and PopulateVolume with context.Canceled, and PopulateVolume leaves no
// volume. A Ctrl-C during a hostile image's deep WORKDIR went unheard for over 20 s.
func TestUnionFSCancel(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			var entries []entry
			for i := 1; i <= 200; i++ {
				entries = append(entries, dir(strings.Repeat("a/", i)))
			}
			l := buildLayer(t, entries...)
			unpack(t, s, l)
			diffIDs := []v1.Hash{l.diffID}
			cdir := filepath.Join(base, "containers", "c1")
			if _, err := s.Prepare(t.Context(), cdir, diffIDs, true); err != nil {
				t.Fatal(err)
			}
			deep := strings.Repeat("/a", 300)
			// Canceled after 100 checks: well inside the walk of 300 components.
			checks := 0
			ctx := triggerCtx{Context: t.Context(), fire: func() bool { checks++; return checks > 100 }}
			err := s.AddMountpoints(ctx, cdir, diffIDs, []mount.Mount{{Type: "tmpfs", Target: deep}})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("AddMountpoints(300 deep) canceled = %v, want context.Canceled", err)
			}
			checks = 0
			vols := filepath.Join(cdir, "volumes")
			err = s.PopulateVolume(ctx, cdir, diffIDs, deep, filepath.Join(vols, "0"))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("PopulateVolume(300 deep) canceled = %v, want context.Canceled", err)
			}
			if names, _ := os.ReadDir(vols); len(names) != 0 {
				t.Errorf("PopulateVolume canceled left %v", names)
			}
		})
	}
}

// TestUnionFSErrorsNameImagePaths: a target through a symlink loop fails in one line that
// names the target, never the internal root securejoin joined under nor a host path.
func TestUnionFSErrorsNameImagePaths(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			l := buildLayer(t, symlink("l", "l"), symlink("m1", "/m2"), symlink("m2", "m1/x"))
			unpack(t, s, l)
			diffIDs := []v1.Hash{l.diffID}
			cdir := filepath.Join(base, "containers", "c1")
			if _, err := s.Prepare(t.Context(), cdir, diffIDs, true); err != nil {
				t.Fatal(err)
			}
			for _, target := range []string{"/l", "/m1/sub"} {
				err := s.PopulateVolume(t.Context(), cdir, diffIDs, target, filepath.Join(cdir, "volumes", "0"))
				want := "populating volume " + target + ": too many levels of symbolic links"
				if err == nil || err.Error() != want {
					t.Errorf("PopulateVolume(%q) = %v, want %q", target, err, want)
				}
				err = s.AddMountpoints(t.Context(), cdir, diffIDs, []mount.Mount{{Type: "tmpfs", Target: target}})
				want = "making mount points: " + target + ": too many levels of symbolic links"
				if err == nil || err.Error() != want {
					t.Errorf("AddMountpoints(%q) = %v, want %q", target, err, want)
				}
			}
		})
	}
}
