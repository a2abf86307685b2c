package main

import (
	"path/filepath"
	"testing"
)

// TestLoadOnePlatformOfIndex: an archive of one platform of an image whose name gives an index
// (save without --all-platforms, the default) loads back without moving the name: the index
// lists that manifest, so it stays, every platform and its ID with it, and nothing is left
// dangling. The name moved to the one manifest, load said "The image alpine:latest already
// exists, renaming the old one with ID … to empty string", and the index, dangling, went at
// the next image prune with its other platforms, which an offline machine cannot pull back.
func TestLoadOnePlatformOfIndex(t *testing.T) {
	root := loadedTestImages(t)
	id := func() string {
		t.Helper()
		out, err := strata(t, root, nil, "images", "--no-trunc", "-q", "alpine:latest")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := id()
	if mt, err := strata(t, root, nil, "image", "inspect", "--format", "{{len .Manifests}}", "alpine:latest"); err != nil || mt == "0\n" {
		t.Skipf("the test image alpine:latest is not an index here (%q, %v)", mt, err)
	}
	for _, args := range [][]string{{}, {"--platform", "linux/arm64"}} {
		tar := filepath.Join(t.TempDir(), "a.tar")
		if _, err := strata(t, root, nil, append(append([]string{"save", "-o", tar}, args...), "alpine:latest")...); err != nil {
			t.Fatalf("save %v: %v", args, err)
		}
		out, err := strata(t, root, nil, "load", "-i", tar)
		if err != nil || out != "Loaded image: alpine:latest\n" {
			t.Errorf("load of save %v = %q, %v; want the Loaded line alone", args, out, err)
		}
		if after := id(); after != before {
			t.Errorf("alpine:latest after the load of save %v is %q, want the index %q", args, after, before)
		}
		if out, err := strata(t, root, nil, "images", "-q", "--filter", "dangling=true"); err != nil || out != "" {
			t.Errorf("dangling images after the load of save %v: %q, %v", args, out, err)
		}
	}
}
