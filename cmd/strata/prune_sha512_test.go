package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/strata-run/strata/cache"
)

// TestImagePruneSHA512Entry: one sha512 entry in index.json (written by another tool) made
// image prune fail outright ("opening blob: invalid digest … uses sha512") while prune -a,
// which untags it first, worked. prune now skips it (with a warning) and removes nothing
// else it should not: the named images stay whole, and images still lists them.
func TestImagePruneSHA512Entry(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "oci", "index.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Manifests = append(idx.Manifests, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 500,
		Digest:      v1.Hash{Algorithm: "sha512", Hex: strings.Repeat("ab", 64)},
		Annotations: map[string]string{cache.RefNameAnnotation: "docker.io/library/weird:1"}})
	if raw, err = json.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"image", "prune", "-f"}, {"image", "prune", "-f", "--dry-run"}, {"system", "prune", "-f"}} {
		if out, err := strata(t, root, nil, args...); err != nil {
			t.Errorf("%v with a sha512 entry = %v (%q), want it skipped", args, err, out)
		}
	}
	out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "busybox:1.38.0-musl") {
		t.Errorf("images after prune = %q, want busybox kept", out)
	}
	if _, err := strata(t, root, nil, "image", "inspect", "busybox:1.38.0-musl"); err != nil {
		t.Errorf("image inspect busybox after prune = %v, want it whole", err)
	}
}
