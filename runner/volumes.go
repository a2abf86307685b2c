package runner

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/strata-run/strata/mount"
)

// TypeVolume is the Mount.Type of an anonymous volume: a directory of the container dir,
// filled from the image (snapshotter.PopulateVolume), that the init binds read-write at an
// image VOLUME's path, as docker run makes one for each VOLUME no -v covers.
const TypeVolume = "volume"

// VolumesDir is the folder of a container dir that holds its anonymous volumes, one per
// VOLUME, named by number. They go with the container dir: rm and run --rm leave nothing.
const VolumesDir = "volumes"

// volumeOptions: read-write (docker mounts a VOLUME writable under --read-only too), and
// nodev as the container's root, since a volume holds the image's device nodes as they are.
var volumeOptions = []string{"rbind", "nodev"}

// ImageVolumes returns the anonymous volumes of a container in containerDir for the image
// config's VOLUME paths, one Mount of TypeVolume each, sorted by path, with sources under
// containerDir/VolumesDir. A path the user mounts something on (-v, --mount, --tmpfs at the
// same target) gets none: the user's mount replaces it, as in docker. A path that is not
// absolute, or is the root, is refused. It does no I/O, and nothing for an image without
// VOLUMEs.
func ImageVolumes(volumes map[string]struct{}, user []mount.Mount, containerDir string) ([]mount.Mount, error) {
	if len(volumes) == 0 {
		return nil, nil
	}
	targets := make([]string, 0, len(volumes))
	for v := range volumes {
		if !path.IsAbs(v) {
			return nil, fmt.Errorf("invalid VOLUME %q in the image: not an absolute path", v)
		}
		t := path.Clean(v)
		if t == "/" {
			return nil, fmt.Errorf("invalid VOLUME %q in the image: a volume can't be mounted on '/'", v)
		}
		targets = append(targets, t)
	}
	slices.Sort(targets)
	targets = slices.Compact(targets) // "/data" and "/data/" are one
	var out []mount.Mount
	for _, t := range targets {
		if slices.ContainsFunc(user, func(m mount.Mount) bool { return path.Clean(m.Target) == t }) {
			continue
		}
		out = append(out, mount.Mount{
			Type:    TypeVolume,
			Source:  filepath.Join(containerDir, VolumesDir, strconv.Itoa(len(out))),
			Target:  t,
			Options: slices.Clone(volumeOptions),
		})
	}
	return out, nil
}
