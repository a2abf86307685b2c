package main

import (
	"strings"
	"testing"
)

// TestImagePruneAsks: `image prune`, docker's command, asks before it removes anything unless
// -f, as docker's does ("WARNING! This will remove all images without at least one container
// associated to them."), and removes nothing on any answer but y: `image prune -a` typed by a
// docker user untagged every unused image at once, with no question. strata's own prune, and
// --dry-run, still never ask.
func TestImagePruneAsks(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	images := func() string {
		t.Helper()
		out, err := strata(t, root, nil, "images", "-q")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := images()
	if before == "" {
		t.Fatal("images -q after load is empty")
	}
	for _, answer := range []string{"", "n\n", "no\n", "x\n"} {
		out, err := strata(t, root, []byte(answer), "image", "prune", "-a")
		if err != nil || !strings.HasPrefix(out, "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ") {
			t.Errorf("image prune -a answered %q = %q, %v; want docker's question", answer, out, err)
		}
		if got := images(); got != before {
			t.Fatalf("images after image prune -a answered %q = %q, want %q kept", answer, got, before)
		}
	}
	out, err := strata(t, root, []byte("n\n"), "image", "prune")
	if err != nil || !strings.HasPrefix(out, "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ") {
		t.Errorf("image prune answered n = %q, %v; want docker's question", out, err)
	}
	for _, args := range [][]string{{"image", "prune", "-a", "--dry-run"}, {"prune", "-a", "--dry-run"}} {
		if out, err := strata(t, root, nil, args...); err != nil || strings.Contains(out, "Are you sure") || !strings.Contains(out, "Would untag: busybox:1.38.0-musl") {
			t.Errorf("%v = %q, %v; want no question", args, out, err)
		}
	}
	out, err = strata(t, root, []byte("y\n"), "image", "prune", "-a")
	if err != nil || !strings.Contains(out, "Untagged: busybox:1.38.0-musl") {
		t.Fatalf("image prune -a answered y = %q, %v", out, err)
	}
	if got := images(); got != "" {
		t.Errorf("images after image prune -a answered y = %q, want none", got)
	}
}
