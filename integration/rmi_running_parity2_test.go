package integration

import (
	"strings"
	"testing"
)

// TestRmiByIDOfRunningImage: rmi of an image by its ID deletes the image itself, which docker
// refuses while a running container uses it, -f or not ('(cannot be forced) - image is being
// used by running container'), and untags nothing; strata's rmi -f untagged every name.
func TestRmiByIDOfRunningImage(t *testing.T) {
	root, _ := loadedRoot(t)
	id := strings.TrimSpace(mustStrata(t, root, "image", "inspect", "-f", "{{.Id}}", "alpine:3.20.3").Stdout)
	short := strings.TrimPrefix(id, "sha256:")[:12]
	c := detached(t, root, "alpine:3.20.3", "sleep", "1000")
	// Without -f another conflict may come first (names in several repositories), as
	// docker's; either way it fails and untags nothing.
	if r := strata(t, root, "rmi", short); r.Code != 1 || !strings.Contains(r.Stderr, "conflict: unable to delete "+short) {
		t.Errorf("rmi %s = exit %d, stderr %q; want a conflict, exit 1", short, r.Code, r.Stderr)
	}
	r := strata(t, root, "rmi", "-f", short)
	checkFailed(t, r, "conflict: unable to delete "+short+" (cannot be forced) - image is being used by running container "+c[:12])
	if r.Code != 1 || r.Stdout != "" {
		t.Errorf("rmi -f %s = exit %d, stdout %q; want 1 and nothing untagged", short, r.Code, r.Stdout)
	}
	for _, name := range []string{"alpine:3.20.3", "alpine:latest"} {
		mustStrata(t, root, "image", "inspect", name)
	}
}
