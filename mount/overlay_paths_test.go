package mount

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
)

// TestMountOverlayOddPaths mounts overlays whose lower, upper and work dirs have in their
// paths the characters overlayfs reads specially (the colon, the comma, the backslash), each
// way mountOverlay can mount: the new mount API and mount(2). Overlayfs takes the backslashes
// of upperdir and workdir for escapes through fsconfig too, so an upper under a store path
// with a backslash failed to mount ("setting upperdir: no such file or directory").
func TestMountOverlayOddPaths(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	mounters := []struct {
		name  string
		mount func(target string, o overlayOptions) error
	}{
		{"any", func(target string, o overlayOptions) error { return mountOverlay("overlay", target, o) }},
		{"legacy", func(target string, o overlayOptions) error { return mountOverlayLegacy("overlay", target, o) }},
	}
	for _, name := range []string{`a:b`, `c,d`, `e\f`, `g\:h`, `i\\j`, `k\`} {
		for _, m := range mounters {
			t.Run(m.name+"/"+name, func(t *testing.T) {
				dir := t.TempDir()
				base := filepath.Join(dir, name)
				lower, upper, work, merged := filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(dir, "merged")
				mkdirs(t, lower, upper, work, merged)
				cleanupMounts(t, dir)
				if err := os.WriteFile(filepath.Join(lower, "f"), []byte("low"), 0o644); err != nil {
					t.Fatal(err)
				}
				// The options as the snapshotter writes them: lowerdir escaped, the others not.
				esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(lower)
				o := parseOverlayOptions([]string{"lowerdir=" + esc, "upperdir=" + upper, "workdir=" + work})
				if err := m.mount(merged, o); err != nil {
					t.Fatalf("mounting with dirs under %q: %v", name, err)
				}
				defer Unmount(merged, 0)
				if b, err := os.ReadFile(filepath.Join(merged, "f")); err != nil || string(b) != "low" {
					t.Errorf("reading f in the overlay = %q, %v, want %q", b, err, "low")
				}
				if err := os.WriteFile(filepath.Join(merged, "new"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(upper, "new")); err != nil {
					t.Errorf("a write did not land in upper: %v", err)
				}
			})
		}
	}
}
