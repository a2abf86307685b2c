package main

import (
	"strings"
	"testing"
)

// TestRmiKeepsOtherDangling: rmi removes the images it untagged, not every dangling image: an
// image whose last name moved to another stays, listed as <none>, until a prune, as docker's
// rmi leaves it. Its collection took every unnamed image in the store.
func TestRmiKeepsOtherDangling(t *testing.T) {
	root := loadedTestImages(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := strata(t, root, nil, args...)
		if err != nil {
			t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	alpine := strings.TrimSpace(run("images", "-q", "--no-trunc", "alpine:3.20.3"))
	run("tag", "busybox:1.38.0-musl", "alpine:latest")
	run("tag", "busybox:1.38.0-musl", "alpine:3.20.3")
	run("tag", "busybox:1.38.0-musl", "other:1")
	if out := run("rmi", "other:1"); out != "Untagged: other:1\n" {
		t.Errorf("rmi other:1 = %q, want only its untag", out)
	}
	if got := run("images", "-q", "--no-trunc", "--filter", "dangling=true"); got != alpine+"\n" {
		t.Errorf("dangling images after an unrelated rmi = %q, want %s kept", got, alpine)
	}
	run("image", "prune", "-f")
	if got := run("images", "-q", "--filter", "dangling=true"); got != "" {
		t.Errorf("dangling images after prune = %q, want none", got)
	}
}
