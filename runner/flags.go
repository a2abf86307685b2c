package runner

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/mount"
)

// optCreate is a private bind option: create the source directory on the host when missing.
// `-v` does that (docker creates the host path); `--mount` refuses a missing source.
const optCreate = "x-strata.create"

// optModePrefix starts a private option that keeps a -v's mode, the options as the user
// wrote them ("ro,z"), or "z" for a --mount volume, for inspect's Mode as docker shows it.
// The init ignores it.
const optModePrefix = "x-strata.mode="

// ErrNamedVolume: strata makes anonymous volumes only; a volume named by -v or --mount,
// which docker keeps apart from any container and shares between them, does not exist here.
var ErrNamedVolume = fmt.Errorf("named volumes are %w", ErrUnsupported)

// ParseVolume parses one -v/--volume value: "host:container[:opts]" is a bind mount, and a
// container path alone an anonymous volume (TypeVolume, with no Source yet: AnonymousVolumes
// places it), as docker makes one. opts is a comma list of ro, rw and propagation words
// (rprivate, rslave, ...); SELinux labels z/Z and nocopy are accepted and ignored. The host
// path must be absolute: "name:container" names a volume, which is refused (ErrNamedVolume).
// A missing host directory is created at run time, as docker does.
func ParseVolume(v string) (mount.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) == 1 {
		if !path.IsAbs(v) {
			return mount.Mount{}, fmt.Errorf("invalid volume specification %q: container path %q is not absolute", v, v)
		}
		return mount.Mount{Type: TypeVolume, Target: path.Clean(v), Options: slices.Clone(volumeOptions)}, nil
	}
	if len(parts) > 3 {
		return mount.Mount{}, fmt.Errorf("invalid volume specification %q: want host-path:container-path[:options] or container-path", v)
	}
	src, dst := parts[0], parts[1]
	if src == "" {
		return mount.Mount{}, fmt.Errorf("invalid volume specification %q: empty host path", v)
	}
	if !filepath.IsAbs(src) {
		return mount.Mount{}, fmt.Errorf("invalid volume specification %q: %w", v, ErrNamedVolume)
	}
	if !path.IsAbs(dst) {
		return mount.Mount{}, fmt.Errorf("invalid volume specification %q: container path %q is not absolute", v, dst)
	}
	m := mount.Mount{Type: "bind", Source: filepath.Clean(src), Target: path.Clean(dst), Options: []string{"rbind"}}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro", "rw":
				m.Options = append(m.Options, o)
			case "z", "Z", "":
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				m.Options = append(m.Options, o)
			case "nocopy", "copy":
			default:
				return mount.Mount{}, fmt.Errorf("invalid volume specification %q: unknown option %q", v, o)
			}
		}
	}
	if len(parts) == 3 && parts[2] != "" {
		m.Options = append(m.Options, optModePrefix+parts[2])
	}
	m.Options = append(m.Options, optCreate)
	return m, nil
}

// ParseMount parses one --mount value: comma separated key=value pairs with type=bind,
// type=tmpfs or type=volume (the default). Keys as docker: source|src,
// target|destination|dst, readonly|ro[=true|false], bind-propagation, tmpfs-size,
// tmpfs-mode. A bind source must exist. A volume without a source is an anonymous one
// (TypeVolume, placed by AnonymousVolumes); with one, it is a named volume (ErrNamedVolume).
func ParseMount(v string) (mount.Mount, error) {
	fail := func(format string, a ...any) (mount.Mount, error) {
		return mount.Mount{}, fmt.Errorf("invalid --mount %q: "+format, append([]any{v}, a...)...)
	}
	typ := "volume"
	var src, dst, propagation, size, mode string
	var readonly bool
	for _, field := range strings.Split(v, ",") {
		key, val, hasVal := strings.Cut(field, "=")
		switch strings.ToLower(key) {
		case "type":
			typ = val
		case "source", "src":
			src = val
		case "target", "destination", "dst":
			dst = val
		case "readonly", "ro":
			if !hasVal {
				readonly = true
				continue
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fail("readonly=%q: not a boolean", val)
			}
			readonly = b
		case "bind-propagation":
			propagation = val
		case "tmpfs-size":
			size = val
		case "tmpfs-mode":
			mode = val
		case "consistency", "bind-nonrecursive":
			// Accepted for compatibility; consistency is a no-op on Linux.
		default:
			return fail("unknown key %q", key)
		}
	}
	if dst == "" {
		return fail("target is required")
	}
	if !path.IsAbs(dst) {
		return fail("target %q is not absolute", dst)
	}
	switch typ {
	case "bind":
		if src == "" {
			return fail("source is required for a bind mount")
		}
		if !filepath.IsAbs(src) {
			return fail("source %q is not absolute", src)
		}
		if _, err := os.Stat(src); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fail("bind source path does not exist: %s", src)
			}
			return fail("checking bind source: %w", err)
		}
		m := mount.Mount{Type: "bind", Source: filepath.Clean(src), Target: path.Clean(dst), Options: []string{"rbind"}}
		if readonly {
			m.Options = append(m.Options, "ro")
		}
		switch propagation {
		case "":
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			m.Options = append(m.Options, propagation)
		default:
			return fail("bind-propagation %q is not one of private, rprivate, shared, rshared, slave, rslave", propagation)
		}
		return m, nil
	case "tmpfs":
		if src != "" {
			return fail("source is not allowed for a tmpfs mount")
		}
		m := tmpfsMount(dst)
		if readonly {
			m.Options = append(m.Options, "ro")
		}
		if size != "" {
			n, err := parseBytes(size)
			if err != nil {
				return fail("tmpfs-size: %w", err)
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(n, 10))
		}
		if mode != "" {
			if _, err := strconv.ParseUint(mode, 8, 32); err != nil {
				return fail("tmpfs-mode %q is not an octal mode", mode)
			}
			m.Options = append(m.Options, "mode="+mode)
		}
		return m, nil
	case TypeVolume:
		if src != "" {
			return fail("%w", ErrNamedVolume)
		}
		// As docker's: a --mount volume's Mode is "z" (its default SELinux relabel).
		m := mount.Mount{Type: TypeVolume, Target: path.Clean(dst), Options: slices.Clone(volumeOptions)}
		if readonly {
			m.Options = append(m.Options, "ro")
		}
		m.Options = append(m.Options, optModePrefix+"z")
		return m, nil
	case "npipe", "cluster", "image":
		return fail("type %s: %w", typ, ErrUnsupported)
	default:
		return fail("unknown type %q", typ)
	}
}

// ParseTmpfs parses one --tmpfs value, "/path[:options]", options being mount(8) words for
// tmpfs such as size=64m,mode=1777,ro. Docker's defaults are noexec, nosuid and nodev.
func ParseTmpfs(v string) (mount.Mount, error) {
	dst, opts, _ := strings.Cut(v, ":")
	if !path.IsAbs(dst) {
		return mount.Mount{}, fmt.Errorf("invalid --tmpfs %q: path %q is not absolute", v, dst)
	}
	m := tmpfsMount(path.Clean(dst))
	if opts != "" {
		for _, o := range strings.Split(opts, ",") {
			if o == "" {
				continue
			}
			if strings.HasPrefix(o, "size=") {
				n, err := parseBytes(strings.TrimPrefix(o, "size="))
				if err != nil {
					return mount.Mount{}, fmt.Errorf("invalid --tmpfs %q: %w", v, err)
				}
				o = "size=" + strconv.FormatInt(n, 10)
			}
			m.Options = append(m.Options, o)
		}
	}
	return m, nil
}

// tmpfsMount is a tmpfs at dst with docker's default options for --tmpfs and --mount.
func tmpfsMount(dst string) mount.Mount {
	return mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: dst, Options: []string{"nosuid", "nodev", "noexec"}}
}

// parseBytes parses a size as docker flags write it: 64m, 1g, 512k, 100b or a plain number
// of bytes; units are binary (k = 1024).
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty size")
	}
	units := map[byte]int64{'b': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}
	num := strings.ToLower(s)
	mult := int64(1)
	num = strings.TrimSuffix(num, "b")
	if num == "" {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	if u, ok := units[num[len(num)-1]]; ok && num[len(num)-1] != 'b' {
		mult = u
		num = num[:len(num)-1]
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n := f * float64(mult)
	if n > float64(1<<62) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(n), nil
}
