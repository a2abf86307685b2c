package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDfCountsImagesNotNames: system df's Images row counts images as docker's does, an
// image of three names once, total and active (it counted names: 3 and 3), and -v shows
// docker's CREATED column.
func TestDfCountsImagesNotNames(t *testing.T) {
	root := busyboxContainer(t)
	for _, name := range []string{"bb:1", "bb:2"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	out, err := strata(t, root, nil, "system", "df", "--format", "json")
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
	out, err = strata(t, root, nil, "system", "df", "-v")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "REPOSITORY   TAG           IMAGE ID       CREATED        SIZE") || !strings.Contains(out, " ago ") {
		t.Errorf("system df -v = %q, want docker's image columns with CREATED", out)
	}
}
