package main

import (
	"strings"
	"testing"
)

// TestImagesDigestRefUnderItsTag: an image pulled by tag and by digest is one row, the tag's,
// as docker and podman list it: the NAME@DIGEST name is not a "<none>" row of its own while a
// tag of its repository names the same image; an image of another repository stays apart.
func TestImagesDigestRefUnderItsTag(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	for _, ref := range []string{name, name + "@" + alpineIndex} {
		if _, err := strata(t, root, nil, "pull", "-q", "--no-unpack", ref); err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
	}
	if _, err := strata(t, root, nil, "tag", name, "other/alpine:1"); err != nil {
		t.Fatal(err)
	}
	rows := func(args ...string) string {
		t.Helper()
		out, err := strata(t, root, nil, append([]string{"images", "--format", "{{.Repository}} {{.Tag}}"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := name + " latest\nother/alpine 1\n"
	if got := rows(); got != want {
		t.Errorf("images =\n%s\nwant\n%s", got, want)
	}
	if got := rows("--digests"); got != want {
		t.Errorf("images --digests =\n%s\nwant\n%s", got, want)
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("images -q = %q, %v; want two IDs, one per row", out, err)
	}
	// rmi of the repository's last tag takes its digest name with it, as docker's does
	// (TestRmiLastTagTakesDigestNames); the other repository's name keeps the image.
	if _, err := strata(t, root, nil, "rmi", name+":latest"); err != nil {
		t.Fatal(err)
	}
	if got, want := rows(), "other/alpine 1\n"; got != want {
		t.Errorf("images after rmi of the tag =\n%s\nwant\n%s", got, want)
	}
}
