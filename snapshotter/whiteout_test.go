package snapshotter

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/strata-run/strata/internal/testutil"
	"github.com/strata-run/strata/layers"
	"golang.org/x/sys/unix"
)

// TestKeptWhiteoutNames pins which ".wh." names delete a sibling: only one plain component.
func TestKeptWhiteoutNames(t *testing.T) {
	tests := []struct {
		name, target string
		ok           bool
	}{
		{".wh.x", "x", true},
		{".wh..hidden", ".hidden", true},
		{".wh..wh..opq", "", false},
		{".wh.", "", false},
		{".wh..", "", false},
		{".wh...", "", false}, // "..": the directory's parent, never a sibling
		{"x", "", false},
		{"x.wh.y", "", false},
	}
	for _, tt := range tests {
		target, ok := keptWhiteout(tt.name)
		if target != tt.target || ok != tt.ok {
			t.Errorf("keptWhiteout(%q) = %q, %v, want %q, %v", tt.name, target, ok, tt.target, tt.ok)
		}
	}
}

// TestVFSAppliesKeptWhiteouts copies layer dirs that kept the image-spec whiteout files (as
// Unpack leaves them where overlay's markers cannot be made) and checks overlay's semantics:
// ".wh.x" deletes the lower x, ".wh..wh..opq" hides the lower dir's content, a whiteout does
// not delete its own layer's entry of the same name, no ".wh." file shows, and a ".wh.." name
// does not reach the parent.
func TestVFSAppliesKeptWhiteouts(t *testing.T) {
	base := t.TempDir()
	lower, upper := filepath.Join(base, "lower"), filepath.Join(base, "upper")
	writeTree(t, lower, map[string]string{
		"a/x": "x", "a/keep": "keep", "b/y": "y", "c": "old", "d/e": "e",
	})
	writeTree(t, upper, map[string]string{
		"a/.wh.x": "", "b/.wh..wh..opq": "", "b/z": "z", ".wh.c": "", "c": "new",
		".wh..": "", "a/.wh.": "", "d/.wh...": "",
	})
	parent := filepath.Join(base, "c1")
	rootfs := filepath.Join(parent, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	sentinel := filepath.Join(parent, "sentinel")
	if err := os.WriteFile(sentinel, []byte("stays"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{lower, upper} {
		if err := applyCopy(t.Context(), l, rootfs, -1); err != nil {
			t.Fatalf("applyCopy(%s) = %v", filepath.Base(l), err)
		}
	}
	want := []string{"a", "a/keep", "b", "b/z", "c", "d", "d/e"}
	if got := treeNames(t, rootfs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rootfs holds %v, want %v", got, want)
	}
	wantContent(t, filepath.Join(rootfs, "c"), "new")
	wantContent(t, sentinel, "stays")
}

// TestVFSOnOverlayRootKeepsWhiteouts opens the snapshotter on a root inside an overlay mount:
// overlay refuses to be mounted there (its upper would be on overlayfs) and refuses to create
// its own markers there (mknod 0/0 is EPERM on overlayfs), so the vfs driver is chosen and
// layer dirs keep ".wh." files, which Prepare applies.
func TestVFSOnOverlayRootKeepsWhiteouts(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	base := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	merged := filepath.Join(base, "merged")
	opts := "lowerdir=" + filepath.Join(base, "lower") + ",upperdir=" + filepath.Join(base, "upper") + ",workdir=" + filepath.Join(base, "work")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mounting overlay: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", merged, err)
		}
	})
	s, err := New(filepath.Join(merged, "snapshots"), Options{})
	if err != nil {
		t.Fatalf("New on an overlay root = %v", err)
	}
	if s.Driver() != VFS || s.Warning() == "" {
		t.Fatalf("New on an overlay root: driver %s, warning %q; want vfs with a warning", s.Driver(), s.Warning())
	}
	if s.layer.Whiteouts != layers.WhiteoutKeep {
		t.Errorf("whiteout mode on an overlay root = %s, want keep", s.layer.Whiteouts)
	}
	lower := buildLayer(t, dir("a/"), file("a/x", "x"), file("a/keep", "keep"), dir("b/"), file("b/y", "y"))
	upper := buildLayer(t, dir("a/"), file("a/.wh.x", ""), dir("b/"), file("b/.wh..wh..opq", ""), file("b/z", "z"))
	unpack(t, s, lower)
	unpack(t, s, upper)
	cdir := filepath.Join(merged, "containers", "c1")
	if _, err := s.Prepare(t.Context(), cdir, []v1.Hash{lower.diffID, upper.diffID}, false); err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	want := []string{"a", "a/keep", "b", "b/z"}
	if got := treeNames(t, filepath.Join(cdir, "rootfs")); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rootfs holds %v, want %v", got, want)
	}
}

// writeTree creates files (and their parent dirs) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeNames lists the paths under root, sorted.
func treeNames(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
