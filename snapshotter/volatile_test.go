package snapshotter

import (
	"slices"
	"testing"

	"github.com/strata-run/strata/mount"
)

func TestVolatile(t *testing.T) {
	rw := mount.Mount{Type: "overlay", Source: "overlay", Target: "/", Options: []string{"lowerdir=/l", "upperdir=/u", "workdir=/w", "nodev"}}
	ro := mount.Mount{Type: "overlay", Source: "overlay", Target: "/", Options: []string{"lowerdir=/l:/m", "nodev", "ro"}}
	bind := mount.Mount{Type: "bind", Source: "/r", Target: "/", Options: []string{"rbind"}}
	in := []mount.Mount{rw, ro, bind}
	out := Volatile(in)
	if !slices.Contains(out[0].Options, "volatile") {
		t.Errorf("writable overlay options %q, want volatile", out[0].Options)
	}
	if slices.Contains(out[1].Options, "volatile") || slices.Contains(out[2].Options, "volatile") {
		t.Errorf("volatile added to a mount without an upper: %q, %q", out[1].Options, out[2].Options)
	}
	if slices.Contains(in[0].Options, "volatile") {
		t.Errorf("Volatile changed its input: %q", in[0].Options)
	}
	if again := Volatile(out); len(again[0].Options) != len(out[0].Options) {
		t.Errorf("Volatile twice: %q", again[0].Options)
	}
}
