package snapshotter

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand/v2"
	"path"
	"strconv"
	"testing"
	"time"
)

// TestDifferentialChangesets compares, through each driver, images whose layers change a few
// names of a small base over and over within one layer (a name made a directory, a file, a
// symlink, a hard link, a fifo, whited out, made opaque, in any order, parents repeated as
// directories before each) with the reference (refApply). Where the generator of
// TestDifferentialLayers spreads its changes over many names, these pile up on the same few,
// which is where a layer's own earlier entries decide what a later one means. It found a
// directory made over the layer's own file showing the lower directory's children (a1b54cf)
// and whiteouts below opaque directories listed as names that cannot be looked up (c662f01).
//
// Whiteouts name only what the layers below hold: overlayfs lists a whiteout in a directory
// that merges with nothing below as a name that cannot be looked up, which docker's overlay2
// shows as well and a layer dir, shared by every image on whatever layers, cannot know of.
func TestDifferentialChangesets(t *testing.T) {
	names := []string{"d", "d/e", "d/e/x", "d/y", "f", "f/z", "g", "h", "d/e/w", "h/i", "h/i/j"}
	base := []genEntry{dirEnt("d", 0o755, nil), dirEnt("d/e", 0o755, nil), fileEnt("d/e/x", "x", 0o644), fileEnt("d/y", "y", 0o644),
		dirEnt("f", 0o755, nil), fileEnt("f/z", "z", 0o644), fileEnt("g", "g", 0o644)}
	seeds := diffSeeds(t)
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, b := newTestSnapshotter(t, d)
			for _, seed0 := range seeds {
				// Ten images a seed: each is small.
				for k := range uint64(10) {
					seed := seed0*10 + k
					image, ok := changesetImage(t, s, seed, base, names)
					if !ok {
						continue
					}
					diffs := checkImageRO(t, s, b, "c"+strconv.FormatUint(seed, 10), image, seed%3 == 0)
					for _, m := range diffs {
						t.Errorf("image %d: %s", seed, m)
					}
					if len(diffs) > 0 {
						dumpImage(t, image)
					}
				}
			}
		})
	}
}

// changesetImage makes the image of seed: base and one to three layers over it, each
// unpacked into s. ok is false for an image the reference cannot apply or Apply refuses (a
// name below the layer's own file, a hard link to a name it removed).
func changesetImage(t *testing.T, s *Snapshotter, seed uint64, base []genEntry, names []string) (image [][]genEntry, ok bool) {
	r := rand.New(rand.NewPCG(seed, 11))
	image = [][]genEntry{base}
	below := refTree{}
	refApply(below, base)
	defer func() {
		if recover() != nil { // refApply: a name below a non-directory
			ok = false
		}
	}()
	for range 1 + r.IntN(3) {
		l := changesetLayer(r, names, below)
		tl := tarLayer(t, l)
		if err := s.Unpack(t.Context(), tl.diffID, gzipLayer, bytes.NewReader(tl.gz)); err != nil {
			return nil, false
		}
		refApply(below, l)
		image = append(image, l)
	}
	return image, true
}

// changesetLayer is 2 to 9 changes of names, below holding what the layers below make.
func changesetLayer(r *rand.Rand, names []string, below refTree) []genEntry {
	var l []genEntry
	var files []string
	ent := func(name string, typ byte, link string, mode int64) genEntry {
		return genEntry{hdr: tar.Header{Name: name, Typeflag: typ, Linkname: link, Mode: mode, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}}
	}
	for range 2 + r.IntN(8) {
		n := names[r.IntN(len(names))]
		op := r.IntN(9)
		parent := path.Dir(n)
		if op == 6 {
			parent = n // the opaque marker goes in n
		}
		var chain []string
		for a := parent; a != "."; a = path.Dir(a) {
			chain = append([]string{a}, chain...)
		}
		for _, a := range chain {
			l = append(l, dirEnt(a, 0o755, nil))
		}
		switch op {
		case 0, 1:
			l = append(l, dirEnt(n, 0o700+int64(r.IntN(2))*0o55, nil))
		case 2:
			l = append(l, fileEnt(n, fmt.Sprint("v", r.IntN(3)), 0o644))
			files = append(files, n)
		case 3:
			l = append(l, ent(n, tar.TypeSymlink, []string{"g", "d", "/d/e", "../x", "nowhere"}[r.IntN(5)], 0o777))
		case 4:
			if len(files) > 0 {
				l = append(l, ent(n, tar.TypeLink, files[r.IntN(len(files))], 0))
			}
		case 5, 7:
			if below[n] != nil {
				dir, base := path.Split(n)
				l = append(l, whEnt(dir+whiteoutPrefix+base))
			}
		case 6:
			l = append(l, whEnt(n+"/"+whiteoutOpaque))
		case 8:
			l = append(l, ent(n, tar.TypeFifo, "", 0o640))
		}
	}
	return l
}
