package rmtree

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nest makes levels directories "d" one in another below dir, calling at(fd, i) in each, and
// holds one handle at a time so it runs under any open-file limit.
func nest(t *testing.T, dir string, levels int, at func(fd, i int)) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range levels {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
		if at != nil {
			at(fd, i)
		}
	}
	unix.Close(fd)
}

func wantGone(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there (%v)", p, err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRemoveDeepFewFiles: a tree of 2,000 levels (past 256, and past a limit of 128 open files
// that a handle per level would need) with files, a fifo, symlinks and a side directory every
// 100 levels, is removed whole.
func TestRemoveDeepFewFiles(t *testing.T) {
	top := filepath.Join(t.TempDir(), "top")
	if err := os.Mkdir(top, 0o755); err != nil {
		t.Fatal(err)
	}
	nest(t, top, 2000, func(fd, i int) {
		if i%100 != 0 {
			return
		}
		for _, err := range []error{
			unix.Mknodat(fd, "fifo", unix.S_IFIFO|0o644, 0),
			unix.Symlinkat("..", fd, "up"),
			unix.Mkdirat(fd, "side", 0o755),
			unix.Mkdirat(fd, "empty", 0o755),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		f, err := unix.Openat(fd, "side/f", unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(f)
	})
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 128
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	err := Remove(top)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatalf("Remove(2,000 levels, 128 files open at most) = %v", err)
	}
	wantGone(t, top)
}

// TestRemoveManyFiles: a directory of 100,000 files and some subdirectories is removed, and
// the files are unlinked as each getdents chunk is read: what the removal allocates per file
// is its name once (and unlinkat's copy of it), not a list of every name in the directory,
// which since 99e7b78 held all of them before the first unlink (some 48 bytes a file here;
// tens of millions of files, gigabytes).
func TestRemoveManyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 100,000 files")
	}
	const files = 100_000
	top := filepath.Join(t.TempDir(), "top")
	if err := os.Mkdir(top, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(top, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		f, err := unix.Openat(fd, "f"+strconv.Itoa(1_000_000 + i)[1:], unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		unix.Close(f)
		if i%10_000 == 0 {
			if err := unix.Mkdirat(fd, "d"+strconv.Itoa(i), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	unix.Close(fd)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = Remove(top)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Remove(%d files) = %v", files, err)
	}
	wantGone(t, top)
	if raceEnabled {
		// Allocations are the race detector's, not the removal's: 32 bytes for unlinkat's
		// 8-byte copy of each name.
		return
	}
	// Each 7-byte name: a string of 8 bytes, and unlinkat's NUL-terminated copy of 8.
	if per := float64(after.TotalAlloc-before.TotalAlloc) / files; per > 24 {
		t.Errorf("Remove allocated %.1f bytes per file, where the name and its copy take 16", per)
	}
}

// TestRemoveSymlinkNotFollowed: a symlink to a directory outside, at the top and below it, is
// removed as a link; what it points to stays whole.
func TestRemoveSymlinkNotFollowed(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(outside, "keep"), "keep")
	writeFile(t, filepath.Join(outside, "sub", "keep"), "keep")
	top := filepath.Join(base, "top")
	if err := os.MkdirAll(filepath.Join(top, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"out", "a/out", "a/b/out"} {
		if err := os.Symlink(outside, filepath.Join(top, l)); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if err := Remove(link); err != nil {
		t.Fatalf("Remove(symlink to a directory) = %v", err)
	}
	wantGone(t, link)
	if err := Remove(top); err != nil {
		t.Fatalf("Remove(tree with symlinks out) = %v", err)
	}
	wantGone(t, top)
	for _, p := range []string{"keep", "sub/keep"} {
		if b, err := os.ReadFile(filepath.Join(outside, p)); err != nil || string(b) != "keep" {
			t.Errorf("outside/%s = %q, %v; want it kept", p, b, err)
		}
	}
}

// TestRemoveGone: a name already gone is no error, and removals of one tree racing each other
// all succeed: every entry one of them finds gone (a file, a subdirectory it was about to
// open or remove, the top) is one the other removed. The layers copy of the walk failed with
// ENOENT when a subdirectory was gone by the time it removed it.
func TestRemoveGone(t *testing.T) {
	dir := t.TempDir()
	if err := Remove(filepath.Join(dir, "none")); err != nil {
		t.Errorf("Remove(missing) = %v", err)
	}
	if err := RemoveAt(-1, filepath.Join(dir, "none")); err != nil {
		t.Errorf("RemoveAt(-1, missing absolute path) = %v", err)
	}
	for round := range 10 {
		top := filepath.Join(dir, "top"+strconv.Itoa(round))
		if err := os.Mkdir(top, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			sub := filepath.Join(top, "w"+strconv.Itoa(i))
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			nest(t, sub, 20, func(fd, j int) {
				for k := range 2 {
					f, err := unix.Openat(fd, "f"+strconv.Itoa(k), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
					if err != nil {
						t.Fatal(err)
					}
					unix.Close(f)
				}
			})
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for g := range errs {
			wg.Go(func() { errs[g] = Remove(top) })
		}
		wg.Wait()
		for g, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Remove %d of 4 at once = %v", round, g, err)
			}
		}
		wantGone(t, top)
	}
}

// TestReadEntries: every name but "." and ".." once, with its type.
func TestReadEntries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), "")
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	got := map[string]uint8{}
	if err := ReadEntries(fd, make([]byte, 512), func(name string, typ uint8) error {
		if _, ok := got[name]; ok {
			t.Errorf("%q twice", name)
		}
		got[name] = typ
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint8{"f": unix.DT_REG, "d": unix.DT_DIR, "l": unix.DT_LNK}
	if len(got) != len(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	for name, typ := range want {
		if g, ok := got[name]; !ok || g != typ && g != unix.DT_UNKNOWN {
			t.Errorf("entry %q: type %d (present %v), want %d", name, g, ok, typ)
		}
	}
}
