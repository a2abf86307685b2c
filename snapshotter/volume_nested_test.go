package snapshotter

import (
	"archive/tar"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/mount"
)

// populateAll prepares container c of base over l (read-only, with the volumes' mount points,
// as strata run --read-only does, or writable) and fills a volume for each target, numbered
// in order under the container's volumes dir, which it returns.
func populateAll(t *testing.T, s *Snapshotter, base, c string, l layer, readOnly bool, targets []string) string {
	t.Helper()
	diffIDs := []v1.Hash{l.diffID}
	cdir := filepath.Join(base, "containers", c)
	if _, err := s.Prepare(t.Context(), cdir, diffIDs, readOnly); err != nil {
		t.Fatal(err)
	}
	vols := filepath.Join(cdir, "volumes")
	var ms []mount.Mount
	var vs []Volume
	for i, tg := range targets {
		dst := filepath.Join(vols, strconv.Itoa(i))
		ms = append(ms, mount.Mount{Type: "volume", Target: tg, Source: dst})
		vs = append(vs, Volume{Target: tg, Dir: dst})
	}
	if readOnly {
		if err := s.AddMountpoints(t.Context(), cdir, diffIDs, ms); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PopulateVolumes(t.Context(), cdir, diffIDs, vs); err != nil {
		t.Fatalf("PopulateVolumes = %v", err)
	}
	return vols
}

// listTree returns every path under dir, relative, with its mode, owner and size, sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel+" "+strconv.FormatUint(uint64(st.Mode), 8)+" "+strconv.Itoa(int(st.Uid))+":"+strconv.Itoa(int(st.Gid))+" "+strconv.Itoa(int(st.Size)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestPopulateNestedVolumesIsLinear counts the entries the volumes of nested targets a, a/a,
// … get (no timing): each volume's copy stops at the mount point of the next, which holds
// the rest. Under --read-only the image view holds the mount points of all of them, and each
// volume copied those below it: n²/2 directories, half a million for 1000 VOLUMEs, each made
// by a path walk as deep, which took 15 s for 200 and many minutes for 1000.
func TestPopulateNestedVolumesIsLinear(t *testing.T) {
	const depth = 500
	for _, d := range drivers {
		for _, readOnly := range []bool{false, true} {
			name := d.name
			if readOnly {
				name += "-readonly"
			}
			t.Run(name, func(t *testing.T) {
				s, base := newTestSnapshotter(t, d)
				// The image holds the first 10 of the chain, with a file in each.
				entries := []entry{dir("etc/")}
				p := ""
				for i := range 10 {
					p += "a/"
					entries = append(entries, entry{name: p, typ: tar.TypeDir, mode: 0o750, uid: 7, gid: 8}, file(p+"f"+strconv.Itoa(i), "in the image"))
				}
				l := buildLayer(t, entries...)
				unpack(t, s, l)
				var targets []string
				for i := 1; i <= depth; i++ {
					targets = append(targets, strings.Repeat("/a", i))
				}
				vols := populateAll(t, s, base, "c", l, readOnly, targets)
				total := 0
				for i := range targets {
					got := listTree(t, filepath.Join(vols, strconv.Itoa(i)))
					total += len(got)
					var want []string
					switch {
					case i < 9:
						want = []string{"a 40750 7:8 ", "f" + strconv.Itoa(i) + " 100644 0:0 12"}
					case i == 9:
						// The image's last: its file, and the next volume's mount point if made.
						want = []string{"f9 100644 0:0 12"}
						if readOnly {
							want = append([]string{"a 40755 0:0 "}, want...)
						}
					case i < depth-1 && readOnly:
						want = []string{"a 40755 0:0 "}
					}
					// Directory sizes are the filesystem's business.
					for j := range got {
						if strings.HasPrefix(got[j], "a 40") {
							got[j] = got[j][:strings.LastIndexByte(got[j], ' ')+1]
						}
					}
					if !slices.Equal(got, want) {
						t.Fatalf("volume %d (%.12s…) holds %q, want %q", i, targets[i], got, want)
					}
				}
				if total > 2*depth {
					t.Errorf("%d nested volumes hold %d entries, want at most %d", depth, total, 2*depth)
				}
			})
		}
	}
}

// TestPopulateVolumesMountOrder: an outer volume's copy stops only at a volume the init mounts
// after it, one of a target with more components. A shorter target that leads inside the outer
// volume through a symlink is mounted first and hidden by the outer one: the outer copy keeps
// what the image holds there. Two targets on one directory copy it alike.
func TestPopulateVolumesMountOrder(t *testing.T) {
	for _, d := range drivers {
		t.Run(d.name, func(t *testing.T) {
			s, base := newTestSnapshotter(t, d)
			l := buildLayer(t,
				dir("x/"), dir("x/y/"), dir("x/y/z/"), dir("x/y/z/t/"), file("x/y/z/t/f", "t"),
				dir("x/y/z/u/"), file("x/y/z/u/g", "u"),
				symlink("s", "x/y/z"), symlink("x/y/v", "z/u"),
			)
			unpack(t, s, l)
			// /s/t (2 names) leads to /x/y/z/t and is mounted before /x/y/z (3 names): kept
			// in its copy. /x/y/z/u (4) is mounted after it: its mount point is copied empty.
			// /x/y/v (3) leads there too, mounted after /x/y/z but before /x/y/z/u.
			targets := []string{"/x/y/z", "/s/t", "/x/y/v", "/x/y/z/u"}
			vols := populateAll(t, s, base, "c", l, false, targets)
			for i, want := range [][]string{
				{"t 40755 0:0", "t/f 100644 0:0 1", "u 40755 0:0"},
				{"f 100644 0:0 1"},
				{"g 100644 0:0 1"},
				{"g 100644 0:0 1"},
			} {
				got := listTree(t, filepath.Join(vols, strconv.Itoa(i)))
				for j := range got {
					if strings.HasPrefix(got[j], "t 40") || strings.HasPrefix(got[j], "u 40") {
						got[j] = got[j][:strings.LastIndexByte(got[j], ' ')]
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("volume %s holds %q, want %q", targets[i], got, want)
				}
			}
		})
	}
}
