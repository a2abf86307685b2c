package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// TestDanglingImageOfContainer: when the tag a container was created from moves to another
// image, the container's image stays, as docker keeps it while a container uses it: images
// lists it as <none>:<none> with its ID (dangling=true finds it), ps shows its short ID
// rather than the name that now names another image, prune and prune -a keep its manifest,
// config and layers, rmi of its ID is refused (-f too: it goes with the container), and tag
// names it again. Once the container is removed, it is listed until prune collects it. The
// audit saw the image vanish from images, ps say the container runs busybox, and prune
// delete its blobs.
func TestDanglingImageOfContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a container")
	}
	root, info := containerOfMovedTag(t)
	oldID := shortID(info.ID.String())
	var blobs []v1.Hash
	for _, b := range info.Blobs { // manifest, config, layers (and index, for one)
		blobs = append(blobs, b.Digest)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}

	out, err := strata(t, root, nil, "images", "-a", "--format", "{{.Repository}} {{.Tag}} {{.ID}}")
	if err != nil || !strings.Contains(out, "<none> <none> "+oldID+"\n") || !strings.Contains(out, "app latest ") {
		t.Errorf("images -a = %q, %v; want the container's image as <none> <none> %s", out, err, oldID)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "dangling=true"); err != nil || out != oldID+"\n" {
		t.Errorf("images -q --filter dangling=true = %q, %v; want %s", out, err, oldID)
	}
	if out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}", "--filter", "dangling=false"); err != nil || strings.Contains(out, "<none>") {
		t.Errorf("images --filter dangling=false = %q, %v; want no dangling image", out, err)
	}
	if out, err := strata(t, root, nil, "ps", "-a", "--format", "{{.Image}}"); err != nil || out != oldID+"\n" {
		t.Errorf("ps -a IMAGE = %q, %v; want the image's short ID %s (app:latest names another image now)", out, err, oldID)
	}
	if out, err := strata(t, root, nil, "ps", "-a", "--no-trunc", "--format", "{{.Image}}"); err != nil || out != info.ID.String()+"\n" {
		t.Errorf("ps -a --no-trunc IMAGE = %q, %v; want %s", out, err, info.ID)
	}
	for _, args := range [][]string{{"prune"}, {"prune", "-a", "--dry-run"}, {"prune", "-a"}} {
		out, err := strata(t, root, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, h := range blobs {
			if strings.Contains(out, h.String()) || !store.HasBlob(h) {
				t.Errorf("%v = %q: it takes blob %s of the image the container uses", args, out, h)
			}
		}
	}
	if _, err := strata(t, root, nil, "rmi", oldID); err == nil || !strings.Contains(err.Error(), "(must be forced) - image is being used by stopped container") {
		t.Errorf("rmi %s = %v; want docker's conflict", oldID, err)
	}
	if _, err := strata(t, root, nil, "rmi", "-f", oldID); err == nil || !strings.Contains(err.Error(), "image is being used by stopped container") {
		t.Errorf("rmi -f %s = %v; want it refused while the container uses it", oldID, err)
	}
	for _, h := range blobs {
		if !store.HasBlob(h) {
			t.Errorf("after rmi: blob %s is gone", h)
		}
	}
	// tag names it again; rmi of the name, the last one, is then refused as ever.
	if _, err := strata(t, root, nil, "tag", oldID, "again:1"); err != nil {
		t.Fatalf("tag %s again:1: %v", oldID, err)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "dangling=true"); err != nil || out != "" {
		t.Errorf("images -q --filter dangling=true after tag = %q, %v; want none", out, err)
	}
	if out, err := strata(t, root, nil, "ps", "-a", "--format", "{{.Image}}"); err != nil || out != oldID+"\n" {
		t.Errorf("ps -a IMAGE = %q, %v; want %s still (app:latest is not its name)", out, err, oldID)
	}
	// rmi -f of the last name: the tag goes, the image stays, dangling, while in use.
	if out, err := strata(t, root, nil, "rmi", "-f", "again:1"); err != nil || out != "Untagged: again:1\n" {
		t.Errorf("rmi -f again:1 = %q, %v", out, err)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "dangling=true"); err != nil || out != oldID+"\n" {
		t.Errorf("images -q --filter dangling=true after rmi -f = %q, %v; want %s", out, err, oldID)
	}
	for _, h := range blobs {
		if !store.HasBlob(h) {
			t.Errorf("after rmi -f: blob %s is gone", h)
		}
	}
	// The container removed, the image is garbage: still listed, dangling, as docker lists
	// it until a prune removes it.
	if _, err := strata(t, root, nil, "rm", "user"); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "dangling=true"); err != nil || out != oldID+"\n" {
		t.Errorf("images --filter dangling=true after rm = %q, %v; want %s until a prune", out, err, oldID)
	}
	if _, err := strata(t, root, nil, "prune"); err != nil {
		t.Fatal(err)
	}
	for _, h := range blobs {
		if store.HasBlob(h) {
			t.Errorf("after rm and prune: blob %s is still there", h)
		}
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "dangling=true"); err != nil || out != "" {
		t.Errorf("images --filter dangling=true after prune = %q, %v; want none", out, err)
	}
}

// TestPsImageOfMovedTag: ps shows the name a container was created from while it names the
// container's image, and the image's ID once it names another image, as docker's ps does.
func TestPsImageOfMovedTag(t *testing.T) {
	root := busyboxContainer(t)
	id, err := strata(t, root, nil, "images", "-q", "busybox:1.38.0-musl")
	if err != nil || len(id) != 13 {
		t.Fatalf("images -q busybox = %q, %v", id, err)
	}
	if out, err := strata(t, root, nil, "ps", "-a", "--format", "{{.Image}}"); err != nil || out != "busybox:1.38.0-musl\n" {
		t.Errorf("ps -a IMAGE = %q, %v; want busybox:1.38.0-musl", out, err)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Moved, with another name still on the old image: ps still shows the ID, as docker's.
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "keep:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), "docker.io/library/busybox:1.38.0-musl", other, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, root, nil, "ps", "-a", "--format", "{{.Image}}"); err != nil || out != id {
		t.Errorf("ps -a IMAGE after the tag moved = %q, %v; want %q", out, err, id)
	}
	if out, err := strata(t, root, nil, "images", "-q", "--filter", "dangling=true"); err != nil || out != "" {
		t.Errorf("images --filter dangling=true = %q, %v; want none (keep:1 names the image)", out, err)
	}
}

// containerOfMovedTag makes the state of an audit: busybox loaded as app:latest alone, a
// container "user" created from it, then app:latest moved to another image. It returns the
// root and what the container's image was.
func containerOfMovedTag(t *testing.T) (root string, old cache.ImageInfo) {
	t.Helper()
	root = t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "app:latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "rmi", "busybox:1.38.0-musl"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "user") })
	if _, err := strata(t, root, nil, "create", "--name", "user", "app:latest", "true"); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.FindImage("docker.io/library/app:latest")
	if err != nil {
		t.Fatal(err)
	}
	if old, err = store.Info(r); err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(context.Background(), "docker.io/library/other:1", other, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "other:1", "app:latest"); err != nil {
		t.Fatal(err)
	}
	return root, old
}

// busyboxContainer is a root with busybox loaded and a container "user" created from it
// (removed when the test ends); it skips the test without root.
func busyboxContainer(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a container")
	}
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "user") })
	if _, err := strata(t, root, nil, "create", "--name", "user", "busybox:1.38.0-musl", "true"); err != nil {
		t.Fatal(err)
	}
	return root
}
