package runner

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/mount"
)

// Private options of a named volume's mount (-v NAME:/path, --mount type=volume,source=NAME):
// its name, which the run resolves to the volume store's dir (VolumeStore.DataDir), and
// nocopy, which leaves an empty volume empty where docker fills it from the image. The init
// ignores both, as it does optModePrefix.
const (
	optVolumeNamePrefix = "x-strata.volume="
	optNoCopy           = "x-strata.nocopy"
	// optFromMount marks a named volume given by --mount, which inspect lists in
	// HostConfig.Mounts; a -v one goes in HostConfig.Binds.
	optFromMount = "x-strata.mount"
	// optVolumeLabelPrefix carries a --mount volume-label, set on the volume if this mount
	// makes it.
	optVolumeLabelPrefix = "x-strata.volume-label="
)

// MaxVolumeNameLen bounds a volume name: it is a directory name under <root>/volumes.
const MaxVolumeNameLen = 255

// ErrInvalidVolumeName is what ValidateVolumeName's errors wrap.
var ErrInvalidVolumeName = errors.New("invalid volume name")

// volumeNamePattern is docker's rule for a local volume's name (RestrictedNamePattern): at
// least two characters, the first a letter or digit. No "/", no leading ".": a name is one
// directory below <root>/volumes and never "..", nor one of the store's own dot files.
var volumeNamePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
})

// ValidateVolumeName refuses what is not a volume name, in docker's words.
func ValidateVolumeName(name string) error {
	if len(name) > MaxVolumeNameLen {
		return fmt.Errorf("%w: %.40q…: longer than %d bytes", ErrInvalidVolumeName, name, MaxVolumeNameLen)
	}
	if !volumeNamePattern().MatchString(name) {
		return fmt.Errorf("%w: %s includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed", ErrInvalidVolumeName, quote.Value(name))
	}
	return nil
}

// namedVolumeMount is the mount of the named volume name at target, its Source left for the
// run to set (ResolveNamedVolumes). mode is what inspect shows as the mount's Mode.
func namedVolumeMount(name, target string, readonly, nocopy bool, mode string) mount.Mount {
	m := mount.Mount{Type: TypeVolume, Target: target, Options: slices.Clone(volumeOptions)}
	if readonly {
		m.Options = append(m.Options, "ro")
	}
	if nocopy {
		m.Options = append(m.Options, optNoCopy)
	}
	m.Options = append(m.Options, optVolumeNamePrefix+name)
	if mode != "" {
		m.Options = append(m.Options, optModePrefix+mode)
	}
	return m
}

// NamedVolume returns the name of the named volume m mounts; ok is false for any other
// mount, an anonymous volume too.
func NamedVolume(m mount.Mount) (name string, ok bool) {
	if m.Type != TypeVolume {
		return "", false
	}
	for _, o := range m.Options {
		if n, ok := strings.CutPrefix(o, optVolumeNamePrefix); ok {
			return n, true
		}
	}
	return "", false
}

// VolumeNoCopy says whether named volume mount m asked for nocopy.
func VolumeNoCopy(m mount.Mount) bool { return slices.Contains(m.Options, optNoCopy) }

// ResolveNamedVolumes sets the Source of each named volume of mounts to its data dir in
// store, and returns the names they use, sorted, each once.
func ResolveNamedVolumes(mounts []mount.Mount, store *VolumeStore) ([]string, error) {
	var names []string
	for i, m := range mounts {
		name, ok := NamedVolume(m)
		if !ok {
			continue
		}
		if err := ValidateVolumeName(name); err != nil {
			return nil, err
		}
		mounts[i].Source = store.DataDir(name)
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// parseNamedVolumeMode checks the mode of a -v NAME:/path:MODE as docker does for a volume:
// ro or rw, nocopy, an SELinux label and a consistency; a propagation is for binds.
func parseNamedVolumeMode(mode string) (readonly, nocopy bool, err error) {
	if mode == "" {
		return false, false, nil
	}
	seen := map[string]string{}
	for _, o := range strings.Split(mode, ",") {
		var kind string
		switch o {
		case "ro", "rw":
			kind = "ro or rw"
			readonly = o == "ro"
		case "nocopy", "copy":
			kind = "copy mode"
			nocopy = o == "nocopy"
		case "z", "Z":
			kind = "label"
		case "consistent", "cached", "delegated":
			kind = "consistency"
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			return false, false, fmt.Errorf("propagation %s is for a bind mount, not a volume", quote.Value(o))
		default:
			return false, false, fmt.Errorf("invalid mode %s: unknown option %s", quote.Value(mode), quote.Value(o))
		}
		if prev, ok := seen[kind]; ok {
			return false, false, fmt.Errorf("invalid mode %s: %s and %s are both a %s", quote.Value(mode), prev, o, kind)
		}
		seen[kind] = o
	}
	return readonly, nocopy, nil
}

// parseNamedVolume is ParseVolume's "name:/container[:mode]" (v, split): a volume of that
// name, made on first use. A src that is no volume name is refused as docker's daemon
// refuses it, with its hint: "a/b" is a relative host path, which -v does not take.
func parseNamedVolume(v, src, dst string, mode []string) (mount.Mount, error) {
	fail := func(err error) (mount.Mount, error) {
		return mount.Mount{}, fmt.Errorf("invalid volume specification %s: %w", quote.Value(v), err)
	}
	if err := ValidateVolumeName(src); err != nil {
		return fail(fmt.Errorf("%w. If you intended to pass a host directory, use absolute path", err))
	}
	m := ""
	if len(mode) > 0 {
		m = mode[0]
	}
	readonly, nocopy, err := parseNamedVolumeMode(m)
	if err != nil {
		return fail(err)
	}
	return namedVolumeMount(src, path.Clean(dst), readonly, nocopy, m), nil
}

// MountVolumeName is the volume name inspect and ps show for volume mount m of container id:
// a named volume's own, or the name VolumeName gives an anonymous one.
func MountVolumeName(id string, m mount.Mount) string {
	if name, ok := NamedVolume(m); ok {
		return name
	}
	return VolumeName(id, m.Source)
}

// inspectNamedVolume adds named volume m (called name) to HostConfig h as docker lists it: a
// -v in Binds as the user wrote it, a --mount in Mounts.
func inspectNamedVolume(h *InspectHostConfig, m mount.Mount, name string) {
	if slices.Contains(m.Options, optFromMount) {
		hm := InspectHostMount{Type: TypeVolume, Source: name, Target: m.Target, ReadOnly: slices.Contains(m.Options, "ro")}
		if l := VolumeLabels(m); VolumeNoCopy(m) || l != nil {
			hm.VolumeOptions = &InspectVolumeOptions{NoCopy: VolumeNoCopy(m), Labels: l}
		}
		h.Mounts = append(h.Mounts, hm)
		return
	}
	b := name + ":" + m.Target
	if mode := mountMode(m); mode != "" {
		b += ":" + mode
	}
	h.Binds = append(h.Binds, b)
}

// InspectVolumeOptions is docker's mount.VolumeOptions.
type InspectVolumeOptions struct {
	NoCopy bool              `json:"NoCopy,omitempty"`
	Labels map[string]string `json:"Labels,omitempty"`
}

// VolumeLabels are the volume-label= of named volume mount m, for the volume it makes: nil
// for none.
func VolumeLabels(m mount.Mount) map[string]string {
	var out map[string]string
	for _, o := range m.Options {
		if l, ok := strings.CutPrefix(o, optVolumeLabelPrefix); ok {
			if out == nil {
				out = map[string]string{}
			}
			k, v, _ := strings.Cut(l, "=")
			out[k] = v
		}
	}
	return out
}
