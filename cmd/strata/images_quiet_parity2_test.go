package main

import (
	"strings"
	"testing"
)

// TestImagesQuietWithFormat: images -q with a --format of its own prints that format, as
// docker's images does (its NewImageFormat applies -q to the table only); strata printed
// IDs, so `images -q --format '{{.Repository}}:{{.Tag}}'` gave hex where docker gives names.
// -q with the table, or --format table, still prints the IDs.
func TestImagesQuietWithFormat(t *testing.T) {
	root := loadedTestImages(t)
	ids, err := strata(t, root, nil, "images", "-q")
	if err != nil || ids == "" {
		t.Fatalf("images -q = %q, %v", ids, err)
	}
	names, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil || !strings.Contains(names, "busybox:1.38.0-musl") {
		t.Fatalf("images --format = %q, %v", names, err)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--format", "{{.Repository}}:{{.Tag}}"); err != nil || out != names {
		t.Errorf("images -q --format '{{.Repository}}:{{.Tag}}' = %q, %v; want %q", out, err, names)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--format", "json"); err != nil || !strings.HasPrefix(out, "{") {
		t.Errorf("images -q --format json = %q, %v; want JSON lines", out, err)
	}
	for _, args := range [][]string{{"-q", "--format", "table"}, {"-q", "--digests"}} {
		if out, err := strata(t, root, nil, append([]string{"images"}, args...)...); err != nil || out != ids {
			t.Errorf("images %q = %q, %v; want the IDs %q", args, out, err, ids)
		}
	}
}
