package integration

import (
	"strings"
	"testing"
)

// TestSizeOfDeepTreeNotFatal: a container that made a tree deeper than PATH_MAX in its
// writable layer leaves ps -s, inspect -s and system df working for every container (exit 0,
// each listed): its size, if it cannot be measured, is 0 with one short warning line, where
// each command failed for all with a multi-KB "file name too long".
func TestSizeOfDeepTreeNotFatal(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	loadConfigImage(t, root, "plain:1", nil, nil, nil)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "deep", "fine") })
	// 6000 bytes of d/ under /root, made 1000 bytes at a time (each mkdir -p and cd stays
	// below PATH_MAX), and a file at the bottom.
	mustStrata(t, root, "run", "--name", "deep", "plain:1", "sh", "-c",
		`p=$(printf 'd/%.0s' $(seq 500)); cd /root; for i in 1 2 3 4 5 6; do mkdir -p $p; cd $p; done; echo x > f`)
	mustStrata(t, root, "run", "--name", "fine", "plain:1", "true")

	short := func(what string, r result) {
		t.Helper()
		if r.Code != 0 {
			t.Errorf("%s: exit %d, stderr %.300q; want 0", what, r.Code, r.Stderr)
		}
		for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
			if len(l) > 300 {
				t.Errorf("%s: stderr line of %d bytes %.200q, want a short one", what, len(l), l)
			}
		}
	}
	r := strata(t, root, "ps", "-a", "-s", "--format", "{{.Names}}")
	short("ps -a -s", r)
	if got := strings.Fields(r.Stdout); len(got) != 2 {
		t.Errorf("ps -a -s lists %q, want deep and fine", got)
	}
	r = strata(t, root, "inspect", "-s", "-f", "{{.Name}}", "deep", "fine")
	short("inspect -s", r)
	if r.Stdout != "/deep\n/fine\n" {
		t.Errorf("inspect -s = %q, want both", r.Stdout)
	}
	r = strata(t, root, "system", "df", "-v")
	short("system df -v", r)
	if !strings.Contains(r.Stdout, "deep") || !strings.Contains(r.Stdout, "fine") {
		t.Errorf("system df -v = %q, want both containers", r.Stdout)
	}
}
