package main

import (
	"strings"
	"testing"
)

// TestRmiInspectEachErrorLine: rmi and image inspect of several images print an error line
// for each one missing, as docker's do, after acting on (printing) the others, and exit 1:
// the failures were joined into one line ("strata: image a is not in the store: …; image
// b …").
func TestRmiInspectEachErrorLine(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "bb:1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args   []string
		stdout string
	}{
		{[]string{"image", "inspect", "--format", "{{.RepoTags}}", "nosuch1", "bb:1", "nosuch2", "nosuch3"}, "[busybox:1.38.0-musl bb:1]\n"},
		{[]string{"rmi", "nosuch1", "bb:1", "nosuch2", "nosuch3"}, "Untagged: bb:1\n"},
	} {
		stdout, stderr, err := runCLI(t, root, c.args...)
		name := strings.Join(c.args, " ")
		if stdout != c.stdout {
			t.Errorf("%s printed %q, want %q", name, stdout, c.stdout)
		}
		if err == nil || strings.Contains(err.Error(), ";") || !strings.Contains(err.Error(), "nosuch3") {
			t.Errorf("%s returned %v, want the last failure alone", name, err)
		}
		if lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); len(lines) != 2 ||
			!strings.HasPrefix(lines[0], "strata: image nosuch1 is not in the store") || !strings.HasPrefix(lines[1], "strata: image nosuch2 is not in the store") {
			t.Errorf("%s printed %q on stderr, want a line for nosuch1 and one for nosuch2", name, stderr)
		}
	}
	if code := execute([]string{"--root", root, "rmi", "nosuch1", "nosuch2"}); code != 1 {
		t.Errorf("rmi nosuch1 nosuch2 = exit %d, want 1", code)
	}
}
