package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDanglingImageByID: a dangling image (its tag moved while a container uses it) is found
// by its ID as docker finds one, short or full, "sha256:" or not: image inspect describes it,
// save writes it, create makes another container of it, tag names it, rmi refuses it with
// docker's conflict. Container inspect's layer blobs are its, not the moved tag's. Before,
// each said the image was not in the store, and the layer blobs were the new image's.
func TestDanglingImageByID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a container")
	}
	root, old := containerOfMovedTag(t)
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "byid") })
	id := old.ID.String()
	short := shortID(id)

	for _, arg := range []string{short, id, strings.TrimPrefix(id, "sha256:"), "sha256:" + short, old.Manifest.Digest.String()} {
		out, err := strata(t, root, nil, "image", "inspect", "--format", "{{.Id}}", arg)
		if err != nil || out != id+"\n" {
			t.Errorf("image inspect %s = %q, %v; want %s", arg, out, err, id)
		}
	}
	tarball := filepath.Join(t.TempDir(), "old.tar")
	if _, err := strata(t, root, nil, "save", "-o", tarball, short); err != nil {
		t.Errorf("save %s: %v", short, err)
	} else {
		other := t.TempDir()
		if _, err := strata(t, other, nil, "load", "--name", "old:1", "-i", tarball); err != nil {
			t.Errorf("load of save %s: %v", short, err)
		} else if out, err := strata(t, other, nil, "image", "inspect", "--format", "{{.Id}}", short); err != nil || out != id+"\n" {
			t.Errorf("image inspect %s after load of its save = %q, %v; want %s", short, out, err, id)
		}
	}
	if _, err := strata(t, root, nil, "create", "--name", "byid", short, "true"); err != nil {
		t.Errorf("create %s: %v", short, err)
	} else if out, err := strata(t, root, nil, "inspect", "--format", "{{.Image}}", "byid"); err != nil || out != id+"\n" {
		t.Errorf("inspect byid Image = %q, %v; want %s", out, err, id)
	}
	if _, err := strata(t, root, nil, "rmi", short); err == nil || !strings.Contains(err.Error(), "conflict: unable to delete "+short+" (must be forced) - image is being used by stopped container") {
		t.Errorf("rmi %s = %v; want docker's conflict", short, err)
	}

	// Container inspect's layer blobs: the container's image, not app:latest's now.
	g := &globals{root: root}
	containers, err := g.openContainers()
	if err != nil {
		t.Fatal(err)
	}
	c, err := containers.Get("user")
	if err != nil {
		t.Fatal(err)
	}
	blobs := layerBlobs(g, c)
	if len(blobs) != len(old.Layers) || len(old.Layers) == 0 {
		t.Fatalf("layerBlobs = %v; want the %d layers of %s", blobs, len(old.Layers), short)
	}
	for i, l := range old.Layers {
		b := blobs[old.Config.RootFS.DiffIDs[i].String()]
		if b.Digest != l.Digest.String() || b.Size != l.Size {
			j, _ := json.Marshal(blobs)
			t.Errorf("layerBlobs = %s; want layer %d as %s", j, i, l.Digest)
		}
	}

	if _, err := strata(t, root, nil, "tag", short, "again:1"); err != nil {
		t.Errorf("tag %s again:1: %v", short, err)
	}
}
