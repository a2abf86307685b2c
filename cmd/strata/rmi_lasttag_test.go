package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/cache"
)

// TestRmiLastTagTakesDigestNames: rmi of a repository's last tag also removes the
// repository's names by digest, and so the image, as docker's rmi does ("Untagged:" for each,
// then "Deleted:"): the digest name stayed and kept the image, a <none> row of the
// repository. While another tag of the repository is there, only the tag goes.
func TestRmiLastTagTakesDigestNames(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	store, err := cache.Open(filepath.Join(root, "oci"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.FindImage("docker.io/library/busybox:1.38.0-musl")
	if err != nil {
		t.Fatal(err)
	}
	byDigest := "docker.io/library/busybox@" + r.Descriptor.Digest.String()
	if err := store.Tag(byDigest, r.Descriptor); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"busybox:other", "bb:1"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	// busybox:other is left: only the tag goes.
	if out, err := strata(t, root, nil, "rmi", "busybox:1.38.0-musl"); err != nil || out != "Untagged: busybox:1.38.0-musl\n" {
		t.Errorf("rmi busybox:1.38.0-musl with busybox:other left = %q, %v; want the tag alone untagged", out, err)
	}
	// busybox:other is busybox's last tag: the digest name goes with it; bb:1 keeps the image.
	want := "Untagged: busybox:other\nUntagged: busybox@" + r.Descriptor.Digest.String() + "\n"
	if out, err := strata(t, root, nil, "rmi", "busybox:other"); err != nil || out != want {
		t.Errorf("rmi busybox:other = %q, %v; want %q", out, err, want)
	}
	if out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}"); err != nil || out != "bb:1\n" {
		t.Errorf("images after = %q, %v; want bb:1 alone", out, err)
	}
	if out, err := strata(t, root, nil, "rmi", "bb:1"); err != nil || !strings.HasPrefix(out, "Untagged: bb:1\nDeleted: sha256:") {
		t.Errorf("rmi bb:1 = %q, %v; want it deleted", out, err)
	}
}
