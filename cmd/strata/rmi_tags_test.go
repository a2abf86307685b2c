package main

import (
	"os"
	"strings"
	"testing"
)

// TestRmiTagOfUsedImage: as docker, rmi of one name of an image a container was created from
// only untags it while other names keep the image ("container … is using its referenced
// image" refused it); the last name needs -f.
func TestRmiTagOfUsedImage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a container")
	}
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "user") })
	if _, err := strata(t, root, nil, "create", "--name", "user", "busybox:latest", "true"); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, root, nil, "rmi", "busybox:1.38.0-musl"); err != nil || out != "Untagged: busybox:1.38.0-musl\n" {
		t.Errorf("rmi of one of two tags = %q, %v; want it untagged, as docker", out, err)
	}
	if _, err := strata(t, root, nil, "rmi", "busybox:latest"); err == nil || !strings.Contains(err.Error(), "conflict: unable to remove repository reference \"busybox:latest\" (must force) - container") {
		t.Errorf("rmi of the last tag = %v, want docker's conflict", err)
	}
	if out, err := strata(t, root, nil, "rmi", "-f", "busybox:latest"); err != nil || out != "Untagged: busybox:latest\n" {
		t.Errorf("rmi -f of the last tag = %q, %v", out, err)
	}
}
