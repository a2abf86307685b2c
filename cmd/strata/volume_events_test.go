package main

import (
	"strings"
	"testing"
)

// TestVolumeEvents: volume create, rm and prune log docker's volume events (create and
// destroy with the driver, once per volume made or removed; prune with what it reclaimed),
// and container prune its prune event, which `events --filter type=volume` and
// `--filter volume=NAME` select, as docker's daemon logs and filters them: strata logged no
// volume event, and refused type=volume.
func TestVolumeEvents(t *testing.T) {
	root := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := strata(t, root, nil, args...)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	run("volume", "create", "vol1")
	run("volume", "create", "vol1") // there already: no event
	anon := strings.TrimSpace(run("volume", "create"))
	run("volume", "rm", "vol1")
	run("volume", "prune", "-f")
	run("container", "prune", "-f")
	got := run("events", "--since", "1h", "--until", "0s", "--filter", "type=volume", "--format", `{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "driver"}}{{index .Actor.Attributes "reclaimed"}}`)
	want := "create vol1 local\ncreate " + anon + " local\ndestroy vol1 local\ndestroy " + anon + " local\nprune  0\n"
	if got != want {
		t.Errorf("volume events = %q, want %q", got, want)
	}
	if got := run("events", "--since", "1h", "--until", "0s", "--filter", "volume=vol1", "--format", "{{.Action}}"); got != "create\ndestroy\n" {
		t.Errorf("events --filter volume=vol1 = %q, want create and destroy", got)
	}
	if got := run("events", "--since", "1h", "--until", "0s", "--filter", "type=container", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.reclaimed}}"); got != "container prune 0\n" {
		t.Errorf("container events = %q, want container prune's", got)
	}
	if _, err := strata(t, root, nil, "events", "--since", "1h", "--until", "0s", "--filter", "type=netwrk"); err == nil {
		t.Error("events --filter type=netwrk succeeded, want it refused")
	}
}
