package main

import (
	"strings"
	"testing"
)

// TestImagesDockerPlaceholders: the placeholders of docker images --format that strata's
// row had no field of ({{.CreatedSince}}, the most used, then VirtualSize, Containers,
// SharedSize, UniqueSize) work, with docker's headers in a table, so templates written for
// docker run as they are: they failed with "no field CreatedSince". VirtualSize has docker's
// four digits (units.HumanSize); --format json is docker's (TestImagesJSONDocker).
func TestImagesDockerPlaceholders(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	created, err := strata(t, root, nil, "images", "--format", "{{.Created}}")
	if err != nil {
		t.Fatal(err)
	}
	size := "886.6kB" // 886622 bytes at docker's four digits
	got, err := strata(t, root, nil, "images", "--format", "{{.Repository}}:{{.Tag}}|{{.CreatedSince}}|{{.VirtualSize}}|{{.Containers}}|{{.SharedSize}}|{{.UniqueSize}}")
	want := "busybox:1.38.0-musl|" + strings.TrimSpace(created) + "|" + size + "|N/A|N/A|N/A\n"
	if err != nil || got != want {
		t.Errorf("images --format with docker's placeholders = %q, %v; want %q", got, err, want)
	}
	got, err = strata(t, root, nil, "images", "--format", "table {{.Repository}}\t{{.CreatedSince}}\t{{.VirtualSize}}\t{{.Containers}}")
	if err != nil || !strings.HasPrefix(got, "REPOSITORY   CREATED ") || !strings.Contains(got, "VIRTUAL SIZE   CONTAINERS\n") {
		t.Errorf("images --format 'table …' = %q, %v; want docker's headers", got, err)
	}
}
