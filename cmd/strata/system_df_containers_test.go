package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDfCountsContainerLayers: after rmi -f of a container's image, the image stays, dangling,
// while the container uses it, and df counts it as an image; once the image is gone from the
// store (collected by a strata before images containers use were kept), the layer its root
// is made of is in use for system df as it is for prune (which keeps it): counted as the
// containers', not as unused.
func TestDfCountsContainerLayers(t *testing.T) {
	root := busyboxContainer(t)
	if _, err := strata(t, root, nil, "rmi", "-f", "busybox:1.38.0-musl"); err != nil {
		t.Fatal(err)
	}
	df := func() usage {
		t.Helper()
		out, err := strata(t, root, nil, "system", "df", "-v", "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		var u usage
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatal(err)
		}
		if len(u.Layers) != 1 || u.Layers[0].Containers != 1 {
			t.Fatalf("system df layers = %+v, want the container's one", u.Layers)
		}
		return u
	}
	u := df()
	tt := u.Totals
	if len(u.Images) != 1 || u.Images[0].Ref != "" || u.Images[0].Containers != 1 || u.Layers[0].Images != 1 ||
		tt.Unused != 0 || tt.Containers != 0 || tt.Unique != tt.Total {
		t.Errorf("system df after rmi -f = images %+v, totals %+v: want the dangling image the container uses, all of it its own", u.Images, tt)
	}
	// The image gone (as an older strata's collection left it): the container's layer alone.
	entries, err := os.ReadDir(filepath.Join(root, "oci", "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(root, "oci", "blobs", "sha256", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	u = df()
	tt = u.Totals
	if tt.Unused != 0 || tt.Containers != u.Layers[0].Unpacked || tt.Unique+tt.Shared+tt.Containers+tt.Unused != tt.Total {
		t.Errorf("system df totals = %+v: want the container's layer (%d bytes) in containers, none unused, the four adding up to the total", tt, u.Layers[0].Unpacked)
	}
	if out, err := strata(t, root, nil, "prune"); err != nil || strings.Contains(out, "layer:") {
		t.Errorf("prune = %q, %v; want the container's layer kept", out, err)
	}
	if _, err := os.Stat(filepath.Join(root, "snapshots", strings.TrimPrefix(u.Layers[0].DiffID, "sha256:"))); err != nil {
		t.Errorf("the container's layer after prune: %v", err)
	}
}
