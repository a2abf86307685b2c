package main

import (
	"strings"
	"testing"
)

// TestRmiByDigestKeepsOtherRepositories: rmi NAME@DIGEST untags the names of NAME's
// repository that carry the image, and only those: a name of the same image in another
// repository stays (it removed every name of the image, as an rmi by ID does).
func TestRmiByDigestKeepsOtherRepositories(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bb:1", "bb:2", "other:1"} {
		if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", name); err != nil {
			t.Fatal(err)
		}
	}
	digest, err := strata(t, root, nil, "images", "--digests", "--format", "{{.Digest}}", "bb:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "rmi", "bb@"+strings.TrimSpace(digest)); err != nil {
		t.Fatalf("rmi bb@%s: %v", strings.TrimSpace(digest), err)
	}
	out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "bb:") || !strings.Contains(out, "other:1") || !strings.Contains(out, "busybox:1.38.0-musl") {
		t.Errorf("images after rmi bb@DIGEST = %q, want bb's names gone and the others kept", out)
	}
}
