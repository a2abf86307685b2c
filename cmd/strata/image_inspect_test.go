package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/strata-run/strata/cache"
)

// TestInspectImage checks docker's grouping: RepoTags lists every name of the same manifest,
// RepoDigests the repo digest each was pulled by, and other images stay out.
func TestInspectImage(t *testing.T) {
	store, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	other, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	root := "sha256:" + strings.Repeat("ab", 32)
	res, err := store.WriteImage(ctx, "example.com/team/app:1", img, cache.WriteOptions{
		Annotations: pulledFrom(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}, "linux/amd64"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag("docker.io/library/app:latest", v1.Descriptor{MediaType: res.Manifest.MediaType, Digest: res.Manifest.Digest, Size: res.Manifest.Size}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.WriteImage(ctx, "example.com/team/other:1", other, cache.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	cf, _ := img.ConfigFile()

	for _, arg := range []string{"example.com/team/app:1", "app", id.Hex[:12]} {
		got, err := inspectImage(store, arg)
		if err != nil {
			t.Fatalf("inspectImage(%q) = %v", arg, err)
		}
		if got.Id != id.String() {
			t.Errorf("inspectImage(%q).Id = %s, want %s", arg, got.Id, id)
		}
		if want := []string{"example.com/team/app:1", "app:latest"}; !slices.Equal(got.RepoTags, want) {
			t.Errorf("inspectImage(%q).RepoTags = %q, want %q", arg, got.RepoTags, want)
		}
		if want := []string{"example.com/team/app@" + root}; !slices.Equal(got.RepoDigests, want) {
			t.Errorf("inspectImage(%q).RepoDigests = %q, want %q", arg, got.RepoDigests, want)
		}
		if len(got.RootFS.Layers) != 2 || got.RootFS.Layers[0] != cf.RootFS.DiffIDs[0].String() {
			t.Errorf("inspectImage(%q).RootFS = %+v, want the config's diff ids %v", arg, got.RootFS, cf.RootFS.DiffIDs)
		}
	}
	if _, err := inspectImage(store, "nosuch:1"); err == nil || !strings.Contains(err.Error(), "nosuch:1") {
		t.Errorf("inspectImage(nosuch:1) = %v, want an error naming it", err)
	}

	var buf bytes.Buffer
	if err := printJSONArray[imageInspect](&buf, nil, false); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("printInspect(nothing) = %q, %v, want [] as docker prints", buf.String(), err)
	}
}
