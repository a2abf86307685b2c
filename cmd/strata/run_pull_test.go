package main

import (
	"os"
	"strings"
	"testing"
)

// TestRunPullFlag: create (and run) --pull as docker's: missing pulls an image the store does
// not have, always pulls it anyway, never (strata's default) says to pull it; another value
// is refused before anything is made.
func TestRunPullFlag(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: create needs root")
	}
	host := fixtureRegistry(t)
	ref := host + "/library/alpine"
	root := t.TempDir()
	if _, err := strata(t, root, nil, "create", "--pull", "bogus", ref, "true"); err == nil || !strings.Contains(err.Error(), `invalid --pull "bogus"`) || exitCodeOf(err) != 125 {
		t.Errorf("create --pull bogus = %v (exit %d); want invalid --pull, 125", err, exitCodeOf(err))
	}
	for _, pull := range []string{"never", ""} {
		args := []string{"create", ref, "true"}
		if pull != "" {
			args = []string{"create", "--pull", pull, ref, "true"}
		}
		if _, err := strata(t, root, nil, args...); err == nil || !strings.Contains(err.Error(), "run 'strata pull") {
			t.Errorf("%q = %v; want the image not in the store, and the hint to pull it", args, err)
		}
	}
	for _, pull := range []string{"missing", "missing", "always"} {
		id, err := strata(t, root, nil, "create", "--pull", pull, ref, "true")
		if err != nil {
			t.Fatalf("create --pull %s = %v", pull, err)
		}
		if _, err := strata(t, root, nil, "rm", strings.TrimSpace(id)); err != nil {
			t.Errorf("rm: %v", err)
		}
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("images -q after create --pull missing = %q, %v; want the pulled image", out, err)
	}
}
