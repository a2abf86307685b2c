package main

import (
	"strings"
	"testing"
)

// TestRmiSaysDeleted: rmi of an image's last name says "Deleted: <ID>" after its Untagged
// lines, as docker's and podman's rmi do; while another name keeps the image, only the name
// goes and nothing is said deleted.
func TestRmiSaysDeleted(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "bb:1"); err != nil {
		t.Fatal(err)
	}
	id, err := strata(t, root, nil, "image", "inspect", "-f", "{{.Id}}", "bb:1")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.TrimSpace(id)
	out, err := strata(t, root, nil, "rmi", "bb:1")
	if err != nil || out != "Untagged: bb:1\n" {
		t.Errorf("rmi of one of two names = %q, %v; want the name untagged only", out, err)
	}
	out, err = strata(t, root, nil, "rmi", "busybox:1.38.0-musl")
	if want := "Untagged: busybox:1.38.0-musl\nDeleted: " + id + "\n"; err != nil || out != want {
		t.Errorf("rmi of the last name = %q, %v; want %q", out, err, want)
	}
}
