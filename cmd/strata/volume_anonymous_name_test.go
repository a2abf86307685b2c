package main

import (
	"os"
	"strings"
	"testing"
)

// TestAnonymousVolumeNameRefused: the name inspect gives a container's anonymous volume names
// no volume another container can mount (strata keeps it in its container's dir). run, create
// and volume create made a new, empty named volume of that name, so docker's way to reach an
// anonymous volume (run -v NAME:/backup ... tar) silently found nothing in it; each now says
// whose volume it is, and makes nothing.
func TestAnonymousVolumeNameRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a container")
	}
	root := loadedTestImages(t)
	if _, err := strata(t, root, nil, "create", "--name", "owner", "-v", "/data", "alpine:latest", "true"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "owner", "other") })
	name, err := strata(t, root, nil, "inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", "owner")
	if name = strings.TrimSpace(name); err != nil || len(name) != 64 {
		t.Fatalf("the anonymous volume's name: %q, %v", name, err)
	}
	for _, args := range [][]string{
		{"create", "--name", "other", "-v", name + ":/backup", "alpine:latest", "true"},
		{"create", "--name", "other", "--mount", "source=" + name + ",target=/backup", "alpine:latest", "true"},
		{"run", "--rm", "-v", name + ":/backup", "alpine:latest", "true"},
		{"volume", "create", name},
	} {
		_, err := strata(t, root, nil, args...)
		if ee, ok := err.(*exitError); ok && ee.err == nil {
			err = nil // the run's container ran, and exited with ee.code
		}
		if err == nil || !strings.Contains(err.Error(), "is the anonymous volume of container") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line saying whose anonymous volume it is", strings.Join(args, " "), err)
		}
	}
	if out, err := strata(t, root, nil, "volume", "ls", "-q"); err != nil || out != "" {
		t.Errorf("volume ls -q = %q, %v; want no volume made", out, err)
	}
	if _, err := strata(t, root, nil, "inspect", "other"); err == nil {
		t.Errorf("a container other was made")
	}
	// Any other 64 hex digits are a volume name as any other.
	other := strings.Repeat("ab", 32)
	if _, err := strata(t, root, nil, "create", "--name", "other", "-v", other+":/x", "alpine:latest", "true"); err != nil {
		t.Errorf("create -v %s:/x: %v", other, err)
	}
}
