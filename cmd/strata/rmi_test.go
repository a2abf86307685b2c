package main

import (
	"strings"
	"testing"
)

// TestRmiByID: as docker, rmi of an image ID removes every name of the image, and refuses
// without -f when those are in more than one repository, rather than untagging one of them.
func TestRmiByID(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "example.com/bb:1"); err != nil {
		t.Fatal(err)
	}
	ids, err := strata(t, root, nil, "images", "-q")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Fields(ids)[0]
	names := func() string {
		out, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(out), " ")
	}
	before := names()
	_, err = strata(t, root, nil, "rmi", id[:6])
	if err == nil || !strings.Contains(err.Error(), "image is referenced in multiple repositories") {
		t.Errorf("rmi %s = %v, want docker's conflict", id[:6], err)
	}
	if got := names(); got != before {
		t.Errorf("images after a refused rmi = %q, want %q", got, before)
	}
	out, err := strata(t, root, nil, "rmi", "-f", id[:6])
	if err != nil || strings.Count(out, "Untagged: ") != 2 {
		t.Errorf("rmi -f %s = %q, %v; want both names untagged", id[:6], out, err)
	}
	if got := names(); got != "" {
		t.Errorf("images after rmi -f = %q, want none", got)
	}
}
