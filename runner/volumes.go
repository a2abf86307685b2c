package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/mount"
)

// TypeVolume is the Mount.Type of an anonymous volume: a directory of the container dir,
// filled from the image (snapshotter.PopulateVolume), that the init binds at its path, as
// docker run makes one for each VOLUME no -v covers, each -v /path and each --mount
// type=volume without a source.
const TypeVolume = "volume"

// VolumesDir is the folder of a container dir that holds its anonymous volumes, named by
// number (see AnonymousVolumes). They go with the container dir: rm and run --rm leave nothing.
const VolumesDir = "volumes"

// volumeOptions: read-write (docker mounts a VOLUME writable under --read-only too), and
// nodev as the container's root, since a volume holds the image's device nodes as they are.
var volumeOptions = []string{"rbind", "nodev"}

// AnonymousVolumes returns mounts, the user's -v, --mount and --tmpfs, with the container's
// anonymous volumes placed: each TypeVolume mount of the user's (-v /path, --mount
// type=volume) gets its Source under containerDir/VolumesDir, and each of the image config's
// VOLUME paths that no user mount targets is appended as one more (ImageVolumes). They are
// numbered from 0 in that order. It does no I/O, and returns mounts as they are when there
// is no volume at all.
func AnonymousVolumes(image map[string]struct{}, mounts []mount.Mount, containerDir string) ([]mount.Mount, error) {
	imageVolumes, err := ImageVolumes(image, mounts)
	if err != nil {
		return nil, err
	}
	n := 0
	place := func(m *mount.Mount) {
		m.Source = filepath.Join(containerDir, VolumesDir, strconv.Itoa(n))
		n++
	}
	var out []mount.Mount
	for i, m := range mounts {
		if _, named := NamedVolume(m); m.Type != TypeVolume || named {
			continue
		}
		if out == nil {
			out = slices.Clone(mounts)
		}
		place(&out[i])
	}
	if out == nil {
		if len(imageVolumes) == 0 {
			return mounts, nil
		}
		out = slices.Clone(mounts)
	}
	for i := range imageVolumes {
		place(&imageVolumes[i])
	}
	return append(out, imageVolumes...), nil
}

// MaxImageVolumes bounds the VOLUMEs of an image strata makes anonymous volumes for. Each is
// a directory, a copy and a bind mount, about a millisecond: 10000 take 10 s. Past it an image
// made to cost (100000 VOLUMEs took 90 s to reach the kernel's mount-max and fail) is refused
// at once; real images have a few.
const MaxImageVolumes = 10000

// ImageVolumes returns the anonymous volumes for the image config's VOLUME paths, one Mount
// of TypeVolume each, sorted by path, their Source left for AnonymousVolumes to set. A path
// the user mounts something on (-v, --mount, --tmpfs at the same target) gets none: the
// user's mount replaces it, as in docker. A path that is not absolute, the root, on or inside
// /proc, or holding a NUL byte is refused, and so are more than MaxImageVolumes. It does no
// I/O, and nothing for an image without VOLUMEs.
func ImageVolumes(volumes map[string]struct{}, user []mount.Mount) ([]mount.Mount, error) {
	if len(volumes) == 0 {
		return nil, nil
	}
	if len(volumes) > MaxImageVolumes {
		return nil, fmt.Errorf("the image has %d VOLUMEs, more than the %d strata makes", len(volumes), MaxImageVolumes)
	}
	targets := make([]string, 0, len(volumes))
	for v := range volumes {
		if !path.IsAbs(v) {
			return nil, fmt.Errorf("invalid VOLUME %.64q in the image: not an absolute path", v)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("invalid VOLUME %.64q in the image: contains a NUL byte", v)
		}
		t := path.Clean(v)
		if t == "/" {
			return nil, fmt.Errorf("invalid VOLUME %.64q in the image: a volume can't be mounted on '/'", v)
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
		// As for the user's mounts (validateMountTargets): a volume there would replace the
		// container's procfs, its masks and read-only parts. The store's check of the whole
		// spec refuses it too, as a mount; this error names the image's VOLUME.
		if t == "/proc" || strings.HasPrefix(t, "/proc/") {
			return nil, fmt.Errorf("invalid VOLUME %.64q in the image: cannot be mounted because it is inside /proc", t)
		}
		out = append(out, mount.Mount{Type: TypeVolume, Target: t, Options: slices.Clone(volumeOptions)})
	}
	return out, nil
}

// VolumeName is the name inspect gives the anonymous volume at source, a dir of the container
// id's dir: 64 hex digits as docker's random names, but derived from the container's ID and
// the volume's number, so it is the same every time and unique to the volume.
func VolumeName(id, source string) string {
	sum := sha256.Sum256([]byte(id + "/" + VolumesDir + "/" + filepath.Base(source)))
	return hex.EncodeToString(sum[:])
}
