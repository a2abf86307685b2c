package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestImageManagementCommands: docker's `image prune`, `image save` and `image load` work as
// prune, save and load do, as scripts written for docker run them (`docker image prune -af`
// in CI clean-up steps): strata image knew inspect, ls, pull, push, rm and tag only, and
// `image prune -a -f` failed with "unknown shorthand flag: 'a'".
func TestImageManagementCommands(t *testing.T) {
	root := t.TempDir()
	if out, err := strata(t, root, nil, "image", "load", "-i", busyboxLayout(t)); err != nil || out != "Loaded image: busybox:1.38.0-musl\n" {
		t.Fatalf("image load = %q, %v", out, err)
	}
	tar := filepath.Join(t.TempDir(), "bb.tar")
	if _, err := strata(t, root, nil, "image", "save", "-o", tar, "busybox:1.38.0-musl"); err != nil {
		t.Fatalf("image save: %v", err)
	}
	if out, err := strata(t, t.TempDir(), nil, "load", "-i", tar); err != nil || out != "Loaded image: busybox:1.38.0-musl\n" {
		t.Fatalf("load of what image save wrote = %q, %v", out, err)
	}
	out, err := strata(t, root, nil, "image", "prune", "-f")
	if err != nil || !strings.Contains(out, "Total reclaimed space:") {
		t.Fatalf("image prune -f = %q, %v", out, err)
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || out == "" {
		t.Fatalf("images after image prune = %q, %v; want the image kept (it is named)", out, err)
	}
	out, err = strata(t, root, nil, "image", "prune", "-a", "-f")
	if err != nil || !strings.Contains(out, "Untagged: busybox:1.38.0-musl") {
		t.Fatalf("image prune -a -f = %q, %v", out, err)
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || out != "" {
		t.Errorf("images after image prune -a = %q, %v; want none", out, err)
	}
}
