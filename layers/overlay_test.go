package layers

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-run/strata/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestApplyOverlayWhiteouts pins that what Apply writes is what overlayfs reads: a whiteout
// hides the lower file, an opaque directory hides the lower directory's content, in a mount
// with both layer dirs as lowerdirs (the way the runner stacks image layers). The user-xattr
// mode is read by a mount with the userxattr option (Linux 5.11), as rootless mounts use.
func TestApplyOverlayWhiteouts(t *testing.T) {
	testutil.Requires(t, testutil.Root, testutil.Overlay)
	for _, mode := range []struct {
		whiteouts WhiteoutMode
		option    string
	}{{WhiteoutOverlay, ""}, {WhiteoutUserXattr, ",userxattr"}} {
		t.Run(mode.whiteouts.String(), func(t *testing.T) {
			testOverlayWhiteouts(t, mode.whiteouts, mode.option)
		})
	}
}

func testOverlayWhiteouts(t *testing.T, whiteouts WhiteoutMode, option string) {
	base := t.TempDir()
	lower, upper, merged := filepath.Join(base, "lower"), filepath.Join(base, "upper"), filepath.Join(base, "merged")
	for _, d := range []string{lower, upper, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	layer1 := tarOf(t,
		file("gone", "1", 0o644),
		file("kept", "1", 0o644),
		dir("opaque/", 0o755),
		file("opaque/old", "1", 0o644),
		dir("merged/", 0o755),
		file("merged/old", "1", 0o644),
	)
	layer2 := tarOf(t,
		file(".wh.gone", "", 0o644),
		dir("opaque/", 0o755),
		file("opaque/.wh..wh..opq", "", 0o644),
		file("opaque/new", "2", 0o644),
		file("merged/new", "2", 0o644),
	)
	for _, l := range []struct {
		dir   string
		layer []byte
	}{{lower, layer1}, {upper, layer2}} {
		if _, err := Apply(context.Background(), l.dir, bytes.NewReader(l.layer), Options{Whiteouts: whiteouts}); err != nil {
			t.Fatalf("Apply(%s) = %v", filepath.Base(l.dir), err)
		}
	}
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, "lowerdir="+upper+":"+lower+option); err != nil {
		t.Fatalf("mounting overlay: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting overlay: %v", err)
		}
	})
	tests := []struct {
		dir  string
		want []string
	}{
		{".", []string{"kept", "merged", "opaque"}},
		{"opaque", []string{"new"}},
		{"merged", []string{"new", "old"}},
	}
	for _, tc := range tests {
		entries, err := os.ReadDir(filepath.Join(merged, tc.dir))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ReadDir(merged/%s) = %v, want %v", tc.dir, got, tc.want)
		}
	}
}
