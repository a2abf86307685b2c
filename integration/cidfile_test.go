package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunCIDFile: docker's --cidfile. run and create write the container's ID into the file
// (no newline, as docker's), refuse a file that exists without making a container, and leave
// no file when no container came to be.
func TestRunCIDFile(t *testing.T) {
	root := busyboxRoot(t)
	img := "busybox:1.38.0-musl"
	dir := t.TempDir()

	ran := filepath.Join(dir, "ran")
	id := strings.TrimSpace(detached(t, root, "--cidfile", ran, img, "sleep", "600"))
	if b, err := os.ReadFile(ran); err != nil || string(b) != id {
		t.Errorf("--cidfile of run -d holds %q, %v; want the ID %q", b, err, id)
	}

	created := filepath.Join(dir, "created")
	out := strings.TrimSpace(mustStrata(t, root, "create", "--cidfile", created, img, "true").Stdout)
	t.Cleanup(func() { strata(t, root, "rm", "-f", out) })
	if b, err := os.ReadFile(created); err != nil || string(b) != out {
		t.Errorf("--cidfile of create holds %q, %v; want the ID %q", b, err, out)
	}

	before := mustStrata(t, root, "ps", "-aq").Stdout
	r := strata(t, root, "run", "--rm", "--cidfile", ran, img, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, "container ID file found") {
		t.Errorf("run with an existing --cidfile: exit %d, %q; want 125, container ID file found", r.Code, r.Stderr)
	}
	if after := mustStrata(t, root, "ps", "-aq").Stdout; after != before {
		t.Errorf("a refused --cidfile made a container: ps -aq %q, was %q", after, before)
	}

	missing := filepath.Join(dir, "missing")
	if r := strata(t, root, "run", "--rm", "--cidfile", missing, "no-such-image:1", "true"); r.Code != 125 {
		t.Errorf("run of a missing image: exit %d, want 125", r.Code)
	}
	if _, err := os.Lstat(missing); !os.IsNotExist(err) {
		t.Errorf("--cidfile of a run that made no container is left: %v", err)
	}
}
