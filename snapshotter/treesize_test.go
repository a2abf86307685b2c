package snapshotter

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// walkFilesSize and walkDirSize are FilesSize and DirSize as they were by path with
// filepath.WalkDir, the reference for trees within PATH_MAX.
func walkFilesSize(dir string) (int64, error) {
	var total int64
	seen := map[fileID]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return err
		}
		if st.Nlink > 1 {
			id := fileID{uint64(st.Dev), st.Ino}
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		total += st.Size
		return nil
	})
	return total, err
}

func walkDirSize(dir string) (int64, error) {
	var total int64
	seen := map[fileID]bool{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			id := fileID{uint64(st.Dev), st.Ino}
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}

// withOpenMax runs f with size walks keeping n directory handles below the root.
func withOpenMax(t *testing.T, n int, f func()) {
	t.Helper()
	old := sizeOpenMax
	sizeOpenMax = n
	defer func() { sizeOpenMax = old }()
	f()
}

// randomSizeTree makes a tree of files of random sizes, sparse files, hard links within the
// tree and to a file outside it, symlinks to directories and files in and out of it and
// dangling, fifos, and empty and nested directories, beside a dir "outside" of big files.
func randomSizeTree(t *testing.T, seed uint64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "big"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root")
	dirs := []string{root}
	var files []string
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		d := dirs[r.IntN(len(dirs))]
		p := filepath.Join(d, "e"+strconv.Itoa(i))
		var err error
		switch k := r.IntN(10); {
		case k < 3:
			err = os.Mkdir(p, 0o755)
			dirs = append(dirs, p)
		case k < 6:
			err = os.WriteFile(p, make([]byte, r.IntN(70000)), 0o644)
			files = append(files, p)
		case k == 6:
			var f *os.File
			if f, err = os.Create(p); err == nil {
				_, err = f.WriteAt([]byte("x"), int64(r.IntN(4<<20)))
				f.Close()
				files = append(files, p)
			}
		case k == 7:
			target := filepath.Join(outside, "big")
			if len(files) > 0 && r.IntN(2) == 0 {
				target = files[r.IntN(len(files))]
			}
			err = os.Link(target, p)
		case k == 8:
			targets := []string{"/", outside, "nosuch", dirs[r.IntN(len(dirs))], filepath.Join(outside, "big"), strings.Repeat("x/", 100)}
			err = os.Symlink(targets[r.IntN(len(targets))], p)
		default:
			err = unix.Mkfifo(p, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestSizeWalkMatchesPathWalk: on trees within PATH_MAX, FilesSize and DirSize answer what
// the walks by path they replace answered, the tree's root a directory, a symlink, a file or
// missing, whether they keep all the handles of a path open or as few as one.
func TestSizeWalkMatchesPathWalk(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		root := randomSizeTree(t, seed)
		base := filepath.Dir(root)
		link := filepath.Join(base, "link")
		if err := os.Symlink(root, link); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{root, link, filepath.Join(base, "outside", "big"), filepath.Join(base, "nosuch")} {
			wantF, wantFErr := walkFilesSize(dir)
			wantD, wantDErr := walkDirSize(dir)
			for _, n := range []int{1, 2, 3, 32} {
				withOpenMax(t, n, func() {
					f, ferr := FilesSize(dir)
					d, derr := DirSize(dir)
					if (ferr != nil) != (wantFErr != nil) || f != wantF && ferr == nil {
						t.Errorf("seed %d, %d handles: FilesSize(%s) = %d, %v; the walk by path: %d, %v", seed, n, dir, f, ferr, wantF, wantFErr)
					}
					if (derr != nil) != (wantDErr != nil) || d != wantD && derr == nil {
						t.Errorf("seed %d, %d handles: DirSize(%s) = %d, %v; the walk by path: %d, %v", seed, n, dir, d, derr, wantD, wantDErr)
					}
					if wantFErr != nil && !errors.Is(ferr, fs.ErrNotExist) || wantDErr != nil && !errors.Is(derr, fs.ErrNotExist) {
						t.Errorf("FilesSize, DirSize(%s): %v, %v; want not exist", dir, ferr, derr)
					}
				})
			}
		}
	}
}

// TestSizeWalkMovedAway: a walk that has closed the handles of the levels above it goes back
// up by "..", and a running container may move the directory it is in meanwhile: ".." then
// leads elsewhere, here to a directory outside the tree holding subdirectories of the same
// names with big files. The walk checks that ".." is the directory it left, and opens it again
// from the root where it is not, counting nothing outside the tree; where the directory left
// was itself replaced, FilesSize skips what it had still to walk of it, as what goes during a
// walk, and DirSize fails.
func TestSizeWalkMovedAway(t *testing.T) {
	write := func(p string, n int) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rename := func(from, to string) {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	// tree makes root/a/yN/c/f of 5 bytes and root/other/h of 7, and outside/yN/c/big of
	// 1,000 beside root; in the first a/yN/c the walk enters (the other yN still to walk, in
	// whatever order the filesystem reads them), move is called with a/yN's path.
	tree := func(t *testing.T, move func(root, outside, y string)) (string, func()) {
		base := t.TempDir()
		root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
		for i := 0; i < 20; i++ {
			y := "y" + strconv.Itoa(i)
			write(filepath.Join(root, "a", y, "c", "f"), 5)
			write(filepath.Join(outside, y, "c", "big"), 1000)
		}
		write(filepath.Join(root, "other", "h"), 7)
		return root, func() {
			sizeWalkHook = func(names []string) {
				if len(names) == 3 && names[0] == "a" {
					sizeWalkHook = nil
					move(root, outside, names[1])
				}
			}
			t.Cleanup(func() { sizeWalkHook = nil })
		}
	}

	t.Run("parent moved out", func(t *testing.T) {
		// a/yN goes to outside/moved: ".." of c is still yN, ".." of yN is outside.
		root, arm := tree(t, func(root, outside, y string) {
			rename(filepath.Join(root, "a", y), filepath.Join(outside, "moved"))
		})
		arm()
		var n int64
		var err error
		withOpenMax(t, 1, func() { n, err = FilesSize(root) })
		if err != nil || n != 20*5+7 {
			t.Errorf("FilesSize = %d, %v; want %d, nothing of outside", n, err, 20*5+7)
		}
	})

	for _, files := range []bool{true, false} {
		t.Run("parent replaced, files "+strconv.FormatBool(files), func(t *testing.T) {
			// a/yN goes outside, and a is replaced by a new directory.
			root, arm := tree(t, func(root, outside, y string) {
				rename(filepath.Join(root, "a", y), filepath.Join(outside, "moved"))
				rename(filepath.Join(root, "a"), filepath.Join(outside, "a"))
				write(filepath.Join(root, "a", "new"), 100)
			})
			arm()
			var n int64
			var err error
			withOpenMax(t, 1, func() {
				if files {
					n, err = FilesSize(root)
				} else {
					n, err = DirSize(root)
				}
			})
			if files {
				// The first yN's f was read before the move, other's h whenever it is;
				// the rest of a, moved away, is not walked, neither is the new a.
				if err != nil || n != 5+7 {
					t.Errorf("FilesSize = %d, %v; want %d", n, err, 5+7)
				}
			} else if !errors.Is(err, errMovedAway) {
				t.Errorf("DirSize = %d, %v; want it failed, the tree moved while measured", n, err)
			}
		})
	}
}
