package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDfCountsImagesNotNames: system df counts images as docker's does, an image of three
// names once: the Images row's total and active (it counted names: 3 and 3), what one image
// uses and what images share (its names shared everything), the images of a layer, and
// -v's image table, one row per image with docker's CREATED column.
func TestDfCountsImagesNotNames(t *testing.T) {
	root := busyboxContainer(t)
	for _, name := range []string{"bb:1", "bb:2"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	out, err := strata(t, root, nil, "system", "df", "-v", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var u usage
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatal(err)
	}
	if s := u.Summary[0]; s.Type != "Images" || s.Total != 1 || s.Active != 1 {
		t.Errorf("system df Images row = %+v, want 1 image, 1 active", s)
	}
	if len(u.Images) != 3 || u.Images[0].Created.IsZero() {
		t.Errorf("system df images = %+v, want the three names with the image's creation time", u.Images)
	}
	// What the image alone uses is its own, whatever its names: the totals and the layers
	// count images, not names.
	if tt := u.Totals; tt.Unique != tt.Total || tt.Shared != 0 {
		t.Errorf("system df totals = %+v, want all of it used by one image", tt)
	}
	for _, l := range u.Layers {
		if l.Images != 1 {
			t.Errorf("layer %s used by %d images, want 1", l.DiffID, l.Images)
		}
	}
	out, err = strata(t, root, nil, "system", "df", "-v")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "REPOSITORY   TAG   IMAGE ID       CREATED        SIZE     SHARED SIZE   UNIQUE SIZE   CONTAINERS\n") || !strings.Contains(out, " ago ") {
		t.Errorf("system df -v = %q, want docker's image columns with CREATED", out)
	}
	// One row for the image, as docker's -v lists it, by its first name, all of it its own
	// but what its container's root is made of.
	_, table, _ := strings.Cut(out, "Images space usage:\n\n")
	table, _, _ = strings.Cut(table, "\n\n")
	if rows := strings.Split(table, "\n"); len(rows) != 2 || !strings.HasPrefix(rows[1], "bb ") || !strings.HasSuffix(rows[1], " 1") {
		t.Errorf("system df -v images = %q, want one row, bb:1's, used by one container", table)
	}
}
