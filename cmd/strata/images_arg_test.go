package main

import (
	"strings"
	"testing"
)

// TestImagesEmptyArgument: `images ""` lists every image, as docker's, which adds no
// reference filter for an empty argument (a script's `images "$REPO"` with REPO unset): it
// was refused, 'invalid reference format: empty reference'.
func TestImagesEmptyArgument(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	all, err := strata(t, root, nil, "images")
	if err != nil || !strings.Contains(all, "busybox") {
		t.Fatalf("images = %q, %v", all, err)
	}
	out, err := strata(t, root, nil, "images", "")
	if err != nil || out != all {
		t.Errorf("images \"\" = %q, %v; want every image, as images lists them:\n%s", out, err, all)
	}
}
