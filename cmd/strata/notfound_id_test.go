package main

import (
	"strings"
	"testing"
)

// TestNotFoundIDNoPullHint: an image ID (or a prefix, as images and ps print it) that names
// nothing in the store fails with "not in the store" alone, as docker's "No such image": the
// hint "run 'strata pull sha256:648c55541b72' first" told the user to pull a repository
// "sha256" with that tag. A name still gets the hint.
func TestNotFoundIDNoPullHint(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"sha256:648c55541b72", "sha256:0", "648c55541b72", strings.Repeat("ab", 32), "sha256:" + strings.Repeat("ab", 32)} {
		for _, cmd := range [][]string{{"image", "inspect", id}, {"rmi", id}, {"save", "-o", t.TempDir() + "/x.tar", id}, {"tag", id, "x:1"}} {
			_, err := strata(t, root, nil, cmd...)
			if err == nil || !strings.Contains(err.Error(), "is not in the store") || strings.Contains(err.Error(), "pull") {
				t.Errorf("%v = %v; want not in the store, without a pull hint", cmd, err)
			}
		}
	}
	if _, err := strata(t, root, nil, "rmi", "nosuch:1"); err == nil || !strings.Contains(err.Error(), "run 'strata pull nosuch:1' first") {
		t.Errorf("rmi nosuch:1 = %v; want the pull hint", err)
	}
}
