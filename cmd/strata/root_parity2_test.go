package main

import (
	"strings"
	"testing"
)

// TestContainerGroup: docker's `container` management commands (container ls -aq, container
// inspect, container rm -f, …) work as strata's own; strata refused them as an unknown command
// "container", so a docker script's `docker container ls -aq` failed. container inspect looks
// names up as containers only, as docker's does.
func TestContainerGroup(t *testing.T) {
	root := loadedTestImages(t)
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "cg1") })
	if _, err := strata(t, root, nil, "container", "create", "--name", "cg1", "busybox:1.38.0-musl", "true"); err != nil {
		t.Fatal(err)
	}
	for _, ls := range []string{"ls", "list", "ps"} {
		if out, err := strata(t, root, nil, "container", ls, "-a", "--format", "{{.Names}}"); err != nil || out != "cg1\n" {
			t.Errorf("container %s -a = %q, %v; want cg1", ls, out, err)
		}
	}
	if out, err := strata(t, root, nil, "container", "inspect", "-f", "{{.Name}}", "cg1"); err != nil || out != "/cg1\n" {
		t.Errorf("container inspect cg1 = %q, %v; want /cg1", out, err)
	}
	// An image is no container to container inspect.
	if out, err := strata(t, root, nil, "container", "inspect", "busybox:1.38.0-musl"); err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("container inspect of an image = %q, %v; want no such container", out, err)
	}
	if _, err := strata(t, root, nil, "container", "bogus"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("container bogus = %v, want unknown command", err)
	}
	if _, err := strata(t, root, nil, "container", "rm", "cg1"); err != nil {
		t.Fatal(err)
	}
	if out, err := strata(t, root, nil, "container", "ls", "-aq"); err != nil || out != "" {
		t.Errorf("container ls -aq after container rm = %q, %v; want nothing", out, err)
	}
}
