package main

import (
	"strings"
	"testing"
)

// TestImagesDigestsShowsPulledDigest: images --digests shows the digest an image was pulled
// by, as docker does and as pull printed it ("Digest:") and image inspect lists it in
// RepoDigests: the index's for one platform of a multi-platform image, not the platform
// manifest's the store holds (which no `pull NAME@DIGEST` on another host finds the same
// image by). A loaded image, pulled by nobody, still shows the digest it holds.
func TestImagesDigestsShowsPulledDigest(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	out, err := strata(t, root, nil, "pull", "--no-unpack", name)
	if err != nil {
		t.Fatalf("pull %s: %v", name, err)
	}
	if !strings.Contains(out, "Digest: "+alpineIndex+"\n") {
		t.Fatalf("pull printed %q, want Digest: %s", out, alpineIndex)
	}
	if manifest := storedDigest(t, root, name); manifest == alpineIndex {
		t.Fatalf("the store holds the index %s, want one platform's manifest", manifest)
	}
	got, err := strata(t, root, nil, "images", "--digests", "--format", "{{.Digest}}", name)
	if err != nil || got != alpineIndex+"\n" {
		t.Errorf("images --digests {{.Digest}} = %q, %v; want %s, the digest pulled by", got, err, alpineIndex)
	}
	table, err := strata(t, root, nil, "images", "--digests", name)
	if err != nil || !strings.Contains(table, " "+alpineIndex+" ") {
		t.Errorf("images --digests =\n%s(%v)\nwant the DIGEST column to show %s", table, err, alpineIndex)
	}
	inspect, err := strata(t, root, nil, "image", "inspect", "--format", "{{range .RepoDigests}}{{.}}{{end}}", name)
	if err != nil || inspect != name+"@"+alpineIndex+"\n" {
		t.Errorf("image inspect RepoDigests = %q, %v; want %s@%s", inspect, err, name, alpineIndex)
	}
	// Loaded: no pull recorded a digest, the one held is shown.
	loaded := t.TempDir()
	if _, err := strata(t, loaded, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	want := storedDigest(t, loaded, "busybox:1.38.0-musl")
	if got, err := strata(t, loaded, nil, "images", "--digests", "--format", "{{.Digest}}"); err != nil || got != want+"\n" {
		t.Errorf("images --digests of a loaded image = %q, %v; want %s", got, err, want)
	}
}
