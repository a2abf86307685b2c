package main

import (
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// TestSaveRepository: save of a repository alone (no tag, no digest, as typed) writes every
// image of that repository with its names, as docker save does (reference.IsNameOnly: "Export
// all images with the same repository"): save busybox, whose only tag is 1.38.0-musl, said
// 'image busybox is not in the store', and save bb wrote bb:latest alone. A tag typed, even
// latest, saves that tag alone; a repository of no image is still not in the store.
func TestSaveRepository(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bb:1", "bb:latest", "other/bb:2"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args []string
		want []string // the names in manifest.json, sorted
	}{
		{[]string{"busybox"}, []string{"busybox:1.38.0-musl"}},
		{[]string{"bb"}, []string{"bb:1", "bb:latest"}},
		{[]string{"docker.io/library/bb"}, []string{"bb:1", "bb:latest"}},
		{[]string{"bb:latest"}, []string{"bb:latest"}},
		{[]string{"other/bb"}, []string{"other/bb:2"}},
		{[]string{"bb", "busybox"}, []string{"bb:1", "bb:latest", "busybox:1.38.0-musl"}},
	} {
		tarball := filepath.Join(t.TempDir(), "s.tar")
		if _, err := strata(t, root, nil, append([]string{"save", "-o", tarball}, c.args...)...); err != nil {
			t.Errorf("save %v: %v", c.args, err)
			continue
		}
		var got []string
		for _, m := range archiveManifest(t, tarball) {
			got = append(got, m.RepoTags...)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("save %v: manifest.json names %q, want %q", c.args, got, c.want)
		}
	}
	if _, err := strata(t, root, nil, "save", "-o", filepath.Join(t.TempDir(), "s.tar"), "nosuch"); err == nil {
		t.Error("save nosuch succeeded")
	}
}
