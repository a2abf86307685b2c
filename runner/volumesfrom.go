package runner

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/mount"
)

// --volumes-from CONTAINER[:MODE] gives a new container every bind and volume of another
// (moby daemon/volumes.go registerMountPoints): the same sources at the same targets, a
// volume by its name, read-only where the other's is or where MODE says ro. Its tmpfs
// mounts are its own and are not lent. The new container's own -v, --mount and --tmpfs
// win at a target both name, and an image VOLUME at such a target gets no volume of its own.
//
// An anonymous volume lives in its container's dir (AnonymousVolumes), which no other
// container may mount. One that is lent is moved into the volume store first, under the name
// inspect gave it already (VolumeName), with docker's anonymous label, and its container's
// mount becomes a mount of that stored volume (optAnonymous): from then on it is used and
// released as docker's anonymous volumes are, kept while any container mounts it, removed
// with the last of them (ReleaseAnonymousVolumes).

// Private options of the mounts --volumes-from makes and of the anonymous volumes it shares.
const (
	// optAnonymous marks a mount of a stored volume that is an anonymous volume (it has a
	// name, optVolumeNamePrefix, that no user gave): inspect lists it as one, and it is
	// removed once no container uses it.
	optAnonymous = "x-strata.anonymous"
	// optFromPrefix marks a mount that --volumes-from copied, with the ID of the container
	// it came from: inspect lists it in Mounts but not in HostConfig, and nothing is copied
	// into its volume from the image.
	optFromPrefix = "x-strata.from="
)

// AnonymousVolumeLabel is the label docker's daemon (≥ 23) puts on the anonymous volumes it
// makes, which volume prune without --all removes; strata puts it on the anonymous volumes
// it moves into the volume store.
const AnonymousVolumeLabel = "com.docker.volume.anonymous"

// ParseVolumesFrom parses a --volumes-from value, CONTAINER[:MODE], as docker's daemon does
// (volume/mounts linuxParser.ParseVolumesFrom): MODE is ro or rw, with an SELinux label (z,
// Z) or a consistency beside it; a propagation, a copy mode and anything else is "invalid
// mode". readonly is true for ro.
func ParseVolumesFrom(spec string) (ref string, readonly bool, err error) {
	if spec == "" {
		return "", false, errors.New("volumes-from specification cannot be an empty string")
	}
	ref, mode, _ := strings.Cut(spec, ":")
	if ref == "" {
		return "", false, fmt.Errorf("invalid --volumes-from %s: no container named", quote.Value(spec))
	}
	if mode == "" {
		return ref, false, nil
	}
	invalid := fmt.Errorf("invalid mode: %s", quote.Value(mode))
	seen := map[string]bool{}
	for _, o := range strings.Split(mode, ",") {
		var kind string
		switch o {
		case "ro", "rw":
			kind = "rw"
			readonly = o == "ro"
		case "z", "Z":
			kind = "label"
		case "consistent", "cached", "delegated":
			kind = "consistency"
		default:
			return "", false, invalid
		}
		if seen[kind] {
			return "", false, invalid
		}
		seen[kind] = true
	}
	return ref, readonly, nil
}

// VolumesFrom returns the ID of the container mount m was copied from by --volumes-from;
// ok is false for a mount of the container's own.
func VolumesFrom(m mount.Mount) (id string, ok bool) {
	for _, o := range m.Options {
		if id, ok := strings.CutPrefix(o, optFromPrefix); ok {
			return id, true
		}
	}
	return "", false
}

// AnonymousNamed says whether m mounts an anonymous volume kept in the volume store (one a
// --volumes-from shared).
func AnonymousNamed(m mount.Mount) bool {
	_, named := NamedVolume(m)
	return named && slices.Contains(m.Options, optAnonymous)
}

// unsharedAnonymous says whether m is an anonymous volume still in its container's dir.
func unsharedAnonymous(m mount.Mount) bool {
	_, named := NamedVolume(m)
	return m.Type == TypeVolume && !named
}

// LentMounts returns the mounts container src lends to another by --volumes-from, each
// marked as coming from src: its binds and its volumes, read-only when src's is or readonly
// is true. Its anonymous volumes must have been moved to the volume store (ShareAnonymous
// Volumes). A mount src's config.json holds that strata does not make (no source, a target
// that is not a clean absolute path) is refused: the config was damaged.
func LentMounts(src *Container, readonly bool) ([]mount.Mount, error) {
	if src.Broken != nil {
		return nil, fmt.Errorf("cannot mount the volumes of container %s: %w", shortID(src.ID), src.Broken)
	}
	damaged := func(m mount.Mount, why string) error {
		return fmt.Errorf("cannot mount the volumes of container %s: its mount at %s %s (config.json damaged?)", shortID(src.ID), quote.Value(m.Target), why)
	}
	var out []mount.Mount
	for _, m := range src.Config.Spec.Mounts {
		switch m.Type {
		case "bind", TypeVolume:
		case "tmpfs":
			continue // its own, as docker's (tmpfs is no mount point to lend)
		default:
			return nil, damaged(m, "is of type "+quote.Value(m.Type))
		}
		if !path.IsAbs(m.Target) || path.Clean(m.Target) != m.Target || m.Target == "/" || strings.IndexByte(m.Target, 0) >= 0 {
			return nil, damaged(m, "has no valid target")
		}
		if m.Source == "" || !path.IsAbs(m.Source) || strings.IndexByte(m.Source, 0) >= 0 {
			return nil, damaged(m, "has no valid source")
		}
		if unsharedAnonymous(m) {
			return nil, damaged(m, "is an anonymous volume still in the container's dir")
		}
		if name, ok := NamedVolume(m); ok {
			if err := ValidateVolumeName(name); err != nil {
				return nil, damaged(m, err.Error())
			}
		}
		c := mount.Mount{Type: m.Type, Source: m.Source, Target: m.Target}
		ro := readonly
		for _, o := range m.Options {
			switch {
			case o == "ro":
				ro = true
			case o == "rw", o == optNoCopy, o == optFromMount,
				strings.HasPrefix(o, optModePrefix), strings.HasPrefix(o, optFromPrefix), strings.HasPrefix(o, optVolumeLabelPrefix):
				// Mode and how it was asked are the lender's (docker copies neither), and
				// nothing is copied into a lent volume.
			default:
				c.Options = append(c.Options, o)
			}
		}
		if ro {
			c.Options = append(c.Options, "ro")
		}
		c.Options = append(c.Options, optFromPrefix+src.ID)
		out = append(out, c)
	}
	return out, nil
}

// MergeVolumesFrom returns the container's own mounts followed by those lent to it (one list
// per --volumes-from, in order): a later lender's mount at a target replaces an earlier's,
// and one at a target the container's own mounts name is left out, as docker's daemon lets
// -v, --mount and --tmpfs win.
func MergeVolumesFrom(own []mount.Mount, lent [][]mount.Mount) []mount.Mount {
	taken := map[string]bool{}
	for _, m := range own {
		taken[path.Clean(m.Target)] = true
	}
	at := map[string]int{}
	var from []mount.Mount
	for _, list := range lent {
		for _, m := range list {
			t := path.Clean(m.Target)
			if taken[t] {
				continue
			}
			if i, ok := at[t]; ok {
				from[i] = m
				continue
			}
			at[t] = len(from)
			from = append(from, m)
		}
	}
	if len(from) == 0 {
		return own
	}
	return append(slices.Clone(own), from...)
}
