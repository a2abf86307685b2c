package main

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestLoadSaysNameMoved: a load that gives a name to another image than the one it named says
// so, as docker load does ("The image app:1 already exists, renaming the old one with ID …
// to empty string"), before its "Loaded image" line: over a name in the store, and in an
// archive that names two images the same (the first loses the name at once, and its
// "Loaded image" line was the only trace of it). A load of the image a name already
// names says nothing more.
func TestLoadSaysNameMoved(t *testing.T) {
	dir := t.TempDir()
	var imgs [2]v1.Image
	var ids [2]v1.Hash
	for i := range imgs {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ids[i], err = img.ConfigName(); err != nil {
			t.Fatal(err)
		}
		imgs[i] = img
	}
	tag, err := name.NewTag("app:1")
	if err != nil {
		t.Fatal(err)
	}
	tars := [2]string{filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")}
	for i, img := range imgs {
		if err := tarball.WriteToFile(tars[i], tag, img); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	if out, err := strata(t, root, nil, "load", "-i", tars[0]); err != nil || out != "Loaded image: app:1\n" {
		t.Fatalf("load a = %q, %v", out, err)
	}
	if out, err := strata(t, root, nil, "load", "-i", tars[0]); err != nil || out != "Loaded image: app:1\n" {
		t.Errorf("load a again = %q, %v; want the Loaded line alone", out, err)
	}
	want := "The image app:1 already exists, renaming the old one with ID " + ids[0].String() + " to empty string\nLoaded image: app:1\n"
	if out, err := strata(t, root, nil, "load", "-i", tars[1]); err != nil || out != want {
		t.Errorf("load b over a's name = %q, %v; want %q", out, err, want)
	}

	// One archive, two images under one name.
	oci := filepath.Join(dir, "oci")
	lp, err := layout.Write(oci, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "docker.io/library/app:1"})); err != nil {
			t.Fatal(err)
		}
	}
	want = "Loaded image: app:1\nThe image app:1 already exists, renaming the old one with ID " + ids[0].String() + " to empty string\nLoaded image: app:1\n"
	if out, err := strata(t, t.TempDir(), nil, "load", "-i", oci); err != nil || out != want {
		t.Errorf("load of an archive naming two images app:1 = %q, %v; want %q", out, err, want)
	}
}
