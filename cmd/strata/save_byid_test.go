package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSaveByIDAndNames: docker save <ID> writes the image with no name (manifest.json's
// RepoTags null, no name in index.json), where strata wrote whichever name of the image the
// store listed first; several names of one image are one manifest.json entry with all of
// them, as docker groups them (strata wrote an entry per name); a name and the image's ID are
// the name alone.
func TestSaveByIDAndNames(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "bb:1"); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "images", "--no-trunc", "--format", "{{.ID}}", "bb:1")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	short := shortID(id)
	for _, c := range []struct {
		args []string
		want [][]string // each manifest.json entry's RepoTags
	}{
		{[]string{short}, [][]string{nil}},
		{[]string{id}, [][]string{nil}},
		{[]string{"busybox:1.38.0-musl", "bb:1"}, [][]string{{"busybox:1.38.0-musl", "bb:1"}}},
		{[]string{"bb:1", short}, [][]string{{"bb:1"}}},
		{[]string{short, "bb:1"}, [][]string{{"bb:1"}}},
	} {
		tarball := filepath.Join(t.TempDir(), "s.tar")
		if _, err := strata(t, root, nil, append([]string{"save", "-o", tarball}, c.args...)...); err != nil {
			t.Errorf("save %v: %v", c.args, err)
			continue
		}
		var got [][]string
		for _, m := range archiveManifest(t, tarball) {
			got = append(got, m.RepoTags)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("save %v: manifest.json RepoTags = %q, want %q", c.args, got, c.want)
		}
	}
}

// archiveManifest reads the manifest.json of the docker archive at path.
func archiveManifest(t *testing.T, path string) []struct{ RepoTags []string } {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s has no manifest.json", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
}
