package main

import (
	"testing"
)

// TestPruneEvents: image prune logs docker's image prune event, and system prune the prune
// events of its container and image prunes, each with what it reclaimed, as docker's daemon
// logs them; neither logged one.
func TestPruneEvents(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"image", "prune", "-f"}, {"system", "prune", "-f"}} {
		if _, err := strata(t, root, nil, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	got, err := strata(t, root, nil, "events", "--since", "1h", "--until", "0s", "--filter", "event=prune", "--format", `{{.Type}} {{index .Actor.Attributes "reclaimed"}}`)
	if want := "image 0\ncontainer 0\nimage 0\n"; err != nil || got != want {
		t.Errorf("prune events = %q, %v; want %q", got, err, want)
	}
}
