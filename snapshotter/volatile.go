package snapshotter

import (
	"slices"

	"github.com/strata-run/strata/mount"
)

// Volatile returns mounts with the container's writable overlay marked volatile, for a
// container removed when it exits (run --rm, as Podman does): overlayfs then skips every sync
// of the upper directory's filesystem, above all the syncfs of that whole host filesystem when
// the container's last process exits and the overlay is unmounted, which on a busy host costs
// more than the rest of the container's start. The cost is the upper's durability, which a
// removed container never needs. Kernels before 5.10 mount the overlay without it.
func Volatile(mounts []mount.Mount) []mount.Mount {
	out := slices.Clone(mounts)
	for i, m := range out {
		if m.Type != "overlay" {
			continue
		}
		if _, upper, _ := m.OverlayDirs(); upper == "" || slices.Contains(m.Options, "volatile") {
			continue
		}
		out[i].Options = append(slices.Clone(m.Options), "volatile")
	}
	return out
}
