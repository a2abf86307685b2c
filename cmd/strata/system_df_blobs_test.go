package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDfLayerBlobs: the Layers line of system df counts as the blobs layers are unpacked from
// the layer blobs alone. It said "from N blobs" of every blob in the store, manifests, index
// and configs among them (one alpine image: "1 unpacked … from 3 blobs"); the store's whole
// count is still said, as that, beside it.
func TestDfLayerBlobs(t *testing.T) {
	root := loadedTestImages(t)
	// The fixtures' layers are gzip; manifests, indexes and configs are JSON.
	dir := filepath.Join(root, "oci", "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	layers := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[0] != '{' {
			layers++
		}
	}
	if layers == 0 || layers == len(ents) {
		t.Fatalf("fixtures have %d layer blobs of %d", layers, len(ents))
	}
	out, err := strata(t, root, nil, "system", "df", "-v", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var u usage
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		t.Fatal(err)
	}
	if u.Totals.Blobs != len(ents) || u.Totals.LayerBlobs != layers || u.Totals.LayerCompressed <= 0 || u.Totals.LayerCompressed >= u.Totals.Compressed {
		t.Errorf("totals = %+v, want %d blobs, %d of them layers", u.Totals, len(ents), layers)
	}
	out, err = strata(t, root, nil, "system", "df")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(" from %d blobs (", layers)
	all := fmt.Sprintf("; %d blobs in all, with manifests and configs (", len(ents))
	if !strings.Contains(out, want) || !strings.Contains(out, all) {
		t.Errorf("system df = %q, want the Layers line to say %q and %q", out, want, all)
	}
}
