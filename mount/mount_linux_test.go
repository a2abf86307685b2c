package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// cleanupMounts unmounts everything under dir when the test ends, even on failure.
func cleanupMounts(t *testing.T, dir string) {
	t.Helper()
	t.Cleanup(func() {
		if err := UnmountAll(dir); err != nil {
			t.Errorf("UnmountAll(%q) = %v", dir, err)
		}
	})
}

func mountedAt(t *testing.T, path string) *mountinfo.Info {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) == 0 {
		return nil
	}
	return infos[len(infos)-1]
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMountBindReadOnly(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	mkdirs(t, src, dst)
	cleanupMounts(t, dir)
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	m := Mount{Type: "bind", Source: src, Target: "/", Options: []string{"rbind", "ro", "nosuid", "private"}}
	if err := m.Mount(dst); err != nil {
		t.Fatalf("Mount(%q) = %v", dst, err)
	}
	if _, err := os.ReadFile(filepath.Join(dst, "f")); err != nil {
		t.Errorf("reading through the bind: %v", err)
	}
	err := os.WriteFile(filepath.Join(dst, "g"), []byte("x"), 0o644)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("writing into a ro bind = %v, want EROFS (the remount did not apply ro)", err)
	}
	info := mountedAt(t, dst)
	if info == nil {
		t.Fatalf("%s is not a mountpoint after Mount", dst)
	}
	if !strings.Contains(info.VFSOptions+","+info.Options, "nosuid") {
		t.Errorf("mount options %q, want nosuid", info.Options)
	}
	if strings.Contains(info.Optional, "shared:") {
		t.Errorf("propagation %q, want private", info.Optional)
	}
}

func TestMountTmpfs(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dst := t.TempDir()
	cleanupMounts(t, dst)
	m := Mount{Type: "tmpfs", Source: "tmpfs", Target: "/tmp", Options: []string{"nodev", "size=1m", "mode=1777"}}
	if err := m.Mount(dst); err != nil {
		t.Fatalf("Mount(%q) = %v", dst, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		t.Errorf("filesystem type %#x, want tmpfs", st.Type)
	}
	if size := int64(st.Blocks) * st.Bsize; size != 1<<20 {
		t.Errorf("tmpfs size %d, want %d (size=1m)", size, 1<<20)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmpfs root mode %v, want 1777", fi.Mode())
	}
}

func TestMountUnsupported(t *testing.T) {
	err := Mount{Source: "/x"}.Mount(t.TempDir())
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("Mount without type or bind = %v, want ErrUnsupported", err)
	}
}

// overlayFixture makes n lower dirs, lower i holding file "i" and all of them "which" (so the
// top one must win), plus upper, work and a mountpoint. Lowers are returned top first.
func overlayFixture(t *testing.T, n int) (dir string, lowers []string) {
	t.Helper()
	dir = t.TempDir()
	// Long names push the lowerdir option far over a page for n >= 128.
	for i := range n {
		l := filepath.Join(dir, "layers", fmt.Sprintf("%064d", i))
		mkdirs(t, l)
		if err := os.WriteFile(filepath.Join(l, strconv.Itoa(i)), []byte(strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l, "which"), []byte(strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		lowers = append([]string{l}, lowers...)
	}
	mkdirs(t, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged"))
	cleanupMounts(t, dir)
	return dir, lowers
}

func checkMerged(t *testing.T, merged string, n int) {
	t.Helper()
	for _, f := range []struct{ name, want string }{
		{"0", "0"},
		{strconv.Itoa(n - 1), strconv.Itoa(n - 1)},
		{"which", strconv.Itoa(n - 1)},
	} {
		got, err := os.ReadFile(filepath.Join(merged, f.name))
		if err != nil || string(got) != f.want {
			t.Errorf("reading %s in the overlay = %q, %v, want %q", f.name, got, err, f.want)
		}
	}
}

func TestMountOverlay(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, n := range []int{1, 3, 130} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			dir, lowers := overlayFixture(t, n)
			merged := filepath.Join(dir, "merged")
			m := Mount{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
				"lowerdir=" + strings.Join(lowers, ":"),
				"upperdir=" + filepath.Join(dir, "upper"),
				"workdir=" + filepath.Join(dir, "work"),
			}}
			if n >= 128 && len(m.Options[0]) <= unix.Getpagesize() {
				t.Fatalf("fixture option is %d bytes, want more than a page", len(m.Options[0]))
			}
			if err := m.Mount(merged); err != nil {
				t.Fatalf("Mount(%q) = %v", merged, err)
			}
			checkMerged(t, merged, n)
			if err := os.WriteFile(filepath.Join(merged, "new"), []byte("w"), 0o644); err != nil {
				t.Fatalf("writing into the overlay: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "upper", "new")); err != nil {
				t.Errorf("a write did not land in upper: %v", err)
			}
			if err := Unmount(merged, 0); err != nil {
				t.Errorf("Unmount(%q) = %v", merged, err)
			}
		})
	}
}

// TestMountOverlayLegacy forces the mount(2) paths the new API normally makes unnecessary, so
// they keep working on kernels before 6.8: the full string, relative lowerdirs after a chdir,
// and short symlinks.
func TestMountOverlayLegacy(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	tests := []struct {
		name   string
		n      int
		spread bool // lowers under different parents, so relative paths do not help
	}{
		{"fits a page", 3, false},
		{"relative to common parent", 60, false},
		{"short symlinks", 130, false},
		{"short symlinks, no common parent", 40, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, lowers := overlayFixture(t, tt.n)
			if tt.spread {
				// Move every lower to its own deep parent, so the common parent is dir and
				// each relative path stays long.
				for i, l := range lowers {
					p := filepath.Join(dir, fmt.Sprintf("spread%03d", i), strings.Repeat("d", 100))
					mkdirs(t, filepath.Dir(p))
					if err := os.Rename(l, p); err != nil {
						t.Fatal(err)
					}
					lowers[i] = p
				}
			}
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			merged := filepath.Join(dir, "merged")
			o := overlayOptions{lowers: lowers, upper: filepath.Join(dir, "upper"), work: filepath.Join(dir, "work")}
			if err := mountOverlayLegacy("overlay", merged, o); err != nil {
				t.Fatalf("mountOverlayLegacy(%d lowers) = %v", tt.n, err)
			}
			checkMerged(t, merged, tt.n)
			if got, _ := os.Getwd(); got != wd {
				t.Errorf("process cwd changed to %q, want %q", got, wd)
			}
		})
	}
}

func TestMountOverlayMissingLower(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	dir := t.TempDir()
	cleanupMounts(t, dir)
	m := Mount{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + filepath.Join(dir, "absent")}}
	err := m.Mount(dir)
	if err == nil {
		t.Fatal("Mount with a missing lowerdir = nil, want an error")
	}
	if !strings.Contains(err.Error(), "absent") {
		t.Errorf("Mount error %q does not name the missing lowerdir", err)
	}
	// Worded once: "mounting overlay at DIR: …", the kernel's own message without its level.
	if msg := err.Error(); !strings.HasPrefix(msg, "mounting overlay at ") || strings.Contains(msg, "(e ") {
		t.Errorf("Mount error %q, want it to start with %q and carry no log level", msg, "mounting overlay at ")
	}
}

func TestUnmountAll(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	cleanupMounts(t, dir)
	tmpfs := Mount{Type: "tmpfs", Source: "tmpfs"}
	// A tmpfs, a tmpfs inside it, and a second tmpfs stacked on the first.
	if err := tmpfs.Mount(dir); err != nil {
		t.Fatal(err)
	}
	mkdirs(t, filepath.Join(dir, "a", "b"))
	if err := tmpfs.Mount(filepath.Join(dir, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if err := tmpfs.Mount(filepath.Join(dir, "a", "b")); err != nil {
		t.Fatal(err)
	}
	if err := UnmountAll(dir); err != nil {
		t.Fatalf("UnmountAll(%q) = %v", dir, err)
	}
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range infos {
		t.Errorf("still mounted after UnmountAll: %s", m.Mountpoint)
	}
	if err := UnmountAll(filepath.Join(dir, "absent")); err != nil {
		t.Errorf("UnmountAll(absent) = %v, want nil", err)
	}
}

// TestMountOverlayNewAPI pins that 130 lowers go through fsconfig "lowerdir+" (kernel >= 6.8)
// rather than silently through a fallback.
func TestMountOverlayNewAPI(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	dir, lowers := overlayFixture(t, 130)
	merged := filepath.Join(dir, "merged")
	o := overlayOptions{lowers: lowers, upper: filepath.Join(dir, "upper"), work: filepath.Join(dir, "work")}
	err := mountOverlayNewAPI("overlay", merged, o)
	if errors.Is(err, errNewAPI) {
		t.Skipf("skipping: kernel lacks the new mount API for overlay: %v", err)
	}
	if err != nil {
		t.Fatalf("mountOverlayNewAPI(130 lowers) = %v", err)
	}
	checkMerged(t, merged, 130)
}

// TestMountRbindReadOnlyRecursive: "rbind,ro" must make submounts read-only too; a plain
// remount would not (mount_setattr AT_RECURSIVE, kernel >= 5.12).
func TestMountRbindReadOnlyRecursive(t *testing.T) {
	testutil.Requires(t, testutil.Root)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	mkdirs(t, filepath.Join(src, "sub"), dst)
	cleanupMounts(t, dir)
	if err := (Mount{Type: "tmpfs", Source: "tmpfs"}).Mount(filepath.Join(src, "sub")); err != nil {
		t.Fatal(err)
	}
	m := Mount{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}
	if err := m.Mount(dst); err != nil {
		t.Fatalf("Mount(%q) = %v", dst, err)
	}
	for _, p := range []string{filepath.Join(dst, "f"), filepath.Join(dst, "sub", "f")} {
		if err := os.WriteFile(p, []byte("x"), 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("writing %s = %v, want EROFS", p, err)
		}
	}
	// The source stays writable: only the new mounts are read-only.
	if err := os.WriteFile(filepath.Join(src, "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Errorf("writing in the source submount: %v", err)
	}
}

func TestMountOverlayVolatile(t *testing.T) {
	// "volatile" reaches the kernel (overlayfs shows it as fsync=volatile since 6.x, as
	// "volatile" before); a kernel without it would get the same overlay without the option.
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	dir, lowers := overlayFixture(t, 2)
	merged := filepath.Join(dir, "merged")
	m := Mount{Type: "overlay", Source: "overlay", Target: "/", Options: []string{
		"lowerdir=" + strings.Join(lowers, ":"),
		"upperdir=" + filepath.Join(dir, "upper"),
		"workdir=" + filepath.Join(dir, "work"),
		"volatile",
	}}
	if err := m.Mount(merged); err != nil {
		t.Fatalf("Mount(%q) = %v", merged, err)
	}
	defer Unmount(merged, 0)
	checkMerged(t, merged, 2)
	info := mountedAt(t, merged)
	if !strings.Contains(info.VFSOptions, "volatile") {
		t.Errorf("overlay options %q, want volatile", info.VFSOptions)
	}
}
