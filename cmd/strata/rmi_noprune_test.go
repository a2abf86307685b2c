package main

import "testing"

// TestRmiNoPrune: rmi --no-prune, as docker scripts pass it, is taken (strata's images have no
// untagged parents for it to keep): it failed with "unknown flag: --no-prune", and the
// image stayed.
func TestRmiNoPrune(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", "x:1"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"rmi", "--no-prune", "x:1"}, {"image", "rm", "--no-prune", "busybox:1.38.0-musl"}} {
		if out, err := strata(t, root, nil, args...); err != nil || out == "" {
			t.Errorf("%v = %q, %v; want the image untagged", args, out, err)
		}
	}
	if out, err := strata(t, root, nil, "images", "-q"); err != nil || out != "" {
		t.Errorf("images after = %q, %v; want none", out, err)
	}
}
