package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/cache"
)

// TestRetaggedImageIsDangling: an image whose last name moved to another image (tag, pull,
// load) is listed as <none>:<none>, as docker lists it until a prune: images shows it,
// dangling=true finds it, system df counts it, its ID finds it (image inspect) and rmi of its
// ID deletes it; prune removes the others. It was invisible: no row, no ID to name it by,
// its bytes counted as unused only. An image of an index is one row, not one for the index
// and one for its manifest; one that is not stored whole (a pull cut short) is no row.
func TestRetaggedImageIsDangling(t *testing.T) {
	root := loadedTestImages(t)
	ids := func(args ...string) string {
		t.Helper()
		out, err := strata(t, root, nil, append([]string{"images", "-q", "--no-trunc"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	alpine := strings.TrimSpace(ids("alpine:3.20.3"))
	for _, name := range []string{"alpine:latest", "alpine:3.20.3"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids("--filter", "dangling=true"); got != alpine+"\n" {
		t.Errorf("images -q --filter dangling=true after alpine's names moved = %q, want %s once", got, alpine)
	}
	out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	if err != nil || !strings.Contains(out, "<none>:<none> "+shortID(alpine)+"\n") || strings.Count(out, "<none>") != 2 {
		t.Errorf("images = %q, %v; want one <none>:<none> row of %s", out, err, shortID(alpine))
	}
	if out, err := strata(t, root, nil, "images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}", "--filter", "dangling=true"); err != nil || out != "<none>:<none> <none>\n" {
		t.Errorf("images --digests of the dangling image = %q, %v; want docker's <none> digest", out, err)
	}
	if out, err := strata(t, root, nil, "system", "df", "--format", "{{.Type}} {{.TotalCount}}"); err != nil || !strings.HasPrefix(out, "Images 2\n") {
		t.Errorf("system df = %q, %v; want 2 images, the dangling one counted", out, err)
	}
	if out, err := strata(t, root, nil, "image", "inspect", "--format", "{{.Id}} {{len .RepoTags}}", shortID(alpine)); err != nil || out != alpine+" 0\n" {
		t.Errorf("image inspect %s = %q, %v; want the dangling image", shortID(alpine), out, err)
	}
	if out, err := strata(t, root, nil, "rmi", shortID(alpine)); err != nil || out != "Deleted: "+alpine+"\n" {
		t.Errorf("rmi %s = %q, %v; want it deleted, as docker's", shortID(alpine), out, err)
	}
	if got := ids("--filter", "dangling=true"); got != "" {
		t.Errorf("images -q --filter dangling=true after rmi = %q, want none", got)
	}

	// In a store of busybox alone (one manifest), its name moved to an image of its own,
	// edited: busybox is dangling until prune.
	root = t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	busybox := strings.TrimSpace(ids("busybox:1.38.0-musl"))
	storeEditedBusybox(t, root, "docker.io/library/busybox:1.38.0-musl", func(c *v1.Config) { c.Env = append(c.Env, "X=1") })
	if got := ids("--filter", "dangling=true"); got != busybox+"\n" {
		t.Fatalf("images -q --filter dangling=true after busybox's name moved = %q, want %s", got, busybox)
	}
	// A dangling image with a layer missing is no image: not listed.
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	_, info, err := findImageInfo(store, shortID(busybox))
	if err != nil || len(info.Layers) == 0 {
		t.Fatalf("finding the dangling busybox: %+v, %v", info, err)
	}
	layer := filepath.Join(root, "oci", "blobs", "sha256", info.Layers[0].Digest.Hex)
	saved, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(layer); err != nil {
		t.Fatal(err)
	}
	if got := ids("--filter", "dangling=true"); got != "" {
		t.Errorf("images -q --filter dangling=true with a layer of the dangling image gone = %q, want none", got)
	}
	if err := os.WriteFile(layer, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "prune"); err != nil {
		t.Fatal(err)
	}
	if got := ids("--filter", "dangling=true"); got != "" {
		t.Errorf("images -q --filter dangling=true after prune = %q, want none", got)
	}
}
