package runner

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-run/strata/internal/quote"
	"github.com/strata-run/strata/mount"
)

// optCreate is a private bind option: create the source directory on the host when missing.
// `-v` does that (docker creates the host path); `--mount` refuses a missing source.
const optCreate = "x-strata.create"

// optModePrefix starts a private option that keeps a -v's mode, the options as the user
// wrote them ("ro,z"), or "z" for a --mount volume, for inspect's Mode as docker shows it.
// The init ignores it.
const optModePrefix = "x-strata.mode="

// ParseVolume parses one -v/--volume value: "host:container[:opts]" is a bind mount, and a
// container path alone an anonymous volume (TypeVolume, with no Source yet: AnonymousVolumes
// places it), as docker makes one. opts is a comma list of at most one word of each kind
// docker knows: ro or rw, a propagation (rprivate, rslave, ...), an SELinux label z or Z, and
// a consistency (consistent, cached, delegated); the last two are accepted and ignored.
// nocopy and copy are volume options, refused on a bind as docker refuses them. The host
// path must be absolute, or start with "." (".:/src", "../data:/d"), which is made absolute
// from the working directory as docker's CLI does; any other "name:container" names a
// volume (parseNamedVolume). A missing host directory is created at run time, as docker does.
func ParseVolume(v string) (mount.Mount, error) {
	fail := func(format string, a ...any) (mount.Mount, error) {
		return mount.Mount{}, fmt.Errorf("invalid volume specification %s: "+format, append([]any{quote.Value(v)}, a...)...)
	}
	parts := strings.Split(v, ":")
	if len(parts) == 1 {
		if !path.IsAbs(v) {
			return fail("container path %s is not absolute", quote.Value(v))
		}
		return mount.Mount{Type: TypeVolume, Target: path.Clean(v), Options: slices.Clone(volumeOptions)}, nil
	}
	if len(parts) > 3 {
		return fail("want host-path:container-path[:options] or container-path")
	}
	src, dst := parts[0], parts[1]
	if src == "" {
		return fail("empty host path")
	}
	if dst == "" {
		return fail("empty container path")
	}
	if len(parts) == 2 {
		if _, err := volumeMode(dst); err == nil {
			// "/data:ro": docker reads options after a container path, which a volume
			// without a host path cannot take.
			return fail("an anonymous volume takes no options")
		}
	}
	if strings.HasPrefix(src, ".") {
		abs, err := filepath.Abs(src)
		if err != nil {
			return fail("host path %s: %w", quote.Value(src), err)
		}
		src = abs
	}
	if !path.IsAbs(dst) {
		return fail("container path %s is not absolute", quote.Value(dst))
	}
	if !filepath.IsAbs(src) {
		return parseNamedVolume(v, src, dst, parts[2:])
	}
	m := mount.Mount{Type: "bind", Source: filepath.Clean(src), Target: path.Clean(dst), Options: []string{"rbind"}}
	if len(parts) == 3 {
		opts, err := volumeMode(parts[2])
		if err != nil {
			return fail("%w", err)
		}
		m.Options = append(m.Options, opts...)
		if parts[2] != "" {
			m.Options = append(m.Options, optModePrefix+parts[2])
		}
	}
	m.Options = append(m.Options, optCreate)
	return m, nil
}

// volumeMode checks a -v bind's options as docker does (volume/mounts linuxValidMountMode)
// and returns those the init applies: ro or rw and the propagation.
func volumeMode(mode string) ([]string, error) {
	if mode == "" {
		return nil, nil
	}
	var opts []string
	seen := map[string]string{}
	for _, o := range strings.Split(mode, ",") {
		var kind string
		switch o {
		case "ro", "rw":
			kind = "ro or rw"
			opts = append(opts, o)
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			kind = "propagation"
			opts = append(opts, o)
		case "z", "Z":
			kind = "label"
		case "consistent", "cached", "delegated":
			kind = "consistency"
		case "nocopy", "copy":
			return nil, fmt.Errorf("option %s is for a volume, not a bind mount", quote.Value(o))
		default:
			return nil, fmt.Errorf("invalid mode %s: unknown option %s", quote.Value(mode), quote.Value(o))
		}
		if prev, ok := seen[kind]; ok {
			return nil, fmt.Errorf("invalid mode %s: %s and %s are both a %s", quote.Value(mode), prev, o, kind)
		}
		seen[kind] = o
	}
	return opts, nil
}

// ParseMount parses one --mount value: comma separated key=value fields, read as CSV as
// docker reads them ("type=bind,\"source=/a,b\",target=/c" has a source with a comma),
// with type=bind, type=tmpfs or type=volume (the default). Keys, case-insensitive, as
// docker's: type, source|src, target|destination|dst, readonly|ro[=BOOL], consistency,
// bind-propagation, bind-recursive (enabled, or readonly: strata's read-only binds are
// recursive), bind-nonrecursive=false, tmpfs-size, tmpfs-mode, volume-label (for the named
// volume the mount makes), volume-nocopy; a bind-*, tmpfs-* or volume-* key goes only with
// its type. A bind source must exist; "." or
// "./x" is made absolute. A volume without a source is an anonymous one (TypeVolume, placed
// by AnonymousVolumes); with one, a named volume (namedVolumeMount). What docker has and
// strata does not (a non-recursive bind, volume drivers and options, an anonymous nocopy) is
// refused with ErrUnsupported, never silently changed.
func ParseMount(v string) (mount.Mount, error) {
	fail := func(format string, a ...any) (mount.Mount, error) {
		return mount.Mount{}, fmt.Errorf("invalid --mount %s: "+format, append([]any{quote.Value(v)}, a...)...)
	}
	var fields []string
	if v != "" {
		r := csv.NewReader(strings.NewReader(v))
		var err error
		if fields, err = r.Read(); err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) {
				err = perr.Err // its line and column say nothing on one line
			}
			return fail("%w", err)
		}
		if _, err := r.Read(); err != io.EOF {
			return fail("more than one line")
		}
	}
	typ := "volume"
	var src, dst, propagation, recursive, size, mode string
	var volumeLabels []string
	var readonly, nonRecursive, nocopy bool
	var unsupported string // a volume-* key strata has no use for
	var kinds []string     // the bind-, tmpfs- and volume- keys given
	for _, field := range fields {
		key, val, hasVal := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if k, _, ok := strings.Cut(key, "-"); ok && (k == "bind" || k == "tmpfs" || k == "volume") {
			kinds = append(kinds, key)
		}
		if !hasVal {
			switch key {
			case "readonly", "ro":
				readonly = true
			case "bind-nonrecursive":
				nonRecursive = true
			case "volume-nocopy":
				nocopy = true
			default:
				return fail("field %s must be a key=value pair", quote.Value(field))
			}
			continue
		}
		var err error
		switch key {
		case "type":
			typ = strings.ToLower(val)
		case "source", "src":
			src = val
			if val == "." || strings.HasPrefix(val, "./") {
				if src, err = filepath.Abs(val); err != nil {
					return fail("source %s: %w", quote.Value(val), err)
				}
			}
		case "target", "destination", "dst":
			dst = val
		case "readonly", "ro":
			if readonly, err = strconv.ParseBool(val); err != nil {
				return fail("invalid value for %s: %s is not a boolean", key, quote.Value(val))
			}
		case "consistency":
			// No-op on Linux, as in docker.
		case "bind-propagation":
			propagation = strings.ToLower(val)
		case "bind-recursive":
			if val == "" {
				// As docker: an empty value is none of the four, not the default.
				return fail("invalid value for bind-recursive: \"\" (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")")
			}
			recursive = val
		case "bind-nonrecursive":
			if nonRecursive, err = strconv.ParseBool(val); err != nil {
				return fail("invalid value for %s: %s is not a boolean", key, quote.Value(val))
			}
		case "tmpfs-size":
			// Docker refuses an empty size or mode; read as no value, it was the default.
			if val == "" {
				return fail("tmpfs-size: invalid size \"\"")
			}
			size = val
		case "tmpfs-mode":
			if val == "" {
				return fail("tmpfs-mode \"\" is not an octal mode")
			}
			mode = val
		case "volume-label":
			// A label of the anonymous volume: strata keeps none, and nothing reads them. A
			// named volume made by this mount gets it.
			volumeLabels = append(volumeLabels, val)
		case "volume-nocopy":
			if nocopy, err = strconv.ParseBool(val); err != nil {
				return fail("invalid value for %s: %s is not a boolean", key, quote.Value(val))
			}
		case "volume-driver":
			if val != "local" && val != "" { // docker's own, what strata's volumes are (its default)
				unsupported = key + "=" + val
			}
		case "volume-opt", "volume-subpath":
			unsupported = key
		case "image-subpath":
			return fail("%s: %w", key, ErrUnsupported)
		default:
			return fail("unexpected key %s in %s", quote.Value(key), quote.Value(field))
		}
	}
	if dst == "" {
		return fail("target is required")
	}
	if !path.IsAbs(dst) {
		return fail("target %s is not absolute", quote.Value(dst))
	}
	for _, k := range kinds {
		if kind, _, _ := strings.Cut(k, "-"); kind != typ {
			return fail("cannot mix '%s-*' options with mount type '%s'", kind, typ)
		}
	}
	switch typ {
	case "bind":
		if src == "" {
			return fail("source is required for a bind mount")
		}
		if !filepath.IsAbs(src) {
			return fail("source %s is not absolute", quote.Value(src))
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
			return fail("bind-propagation %s is not one of private, rprivate, shared, rshared, slave, rslave", quote.Value(propagation))
		}
		switch recursive {
		case "", "enabled":
		case "readonly":
			// Docker's conditions; strata's read-only binds are recursively read-only already.
			if !readonly {
				return fail("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
			}
			if propagation != "rprivate" {
				return fail("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
			}
		case "disabled", "writable":
			// A bind without its submounts, or with them writable under a read-only one:
			// strata's binds are recursive, and recursively read-only.
			return fail("bind-recursive=%s: %w", recursive, ErrUnsupported)
		default:
			return fail("invalid value for bind-recursive: %s (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")", quote.Value(recursive))
		}
		if nonRecursive {
			return fail("bind-nonrecursive: %w", ErrUnsupported)
		}
		return m, nil
	case "tmpfs":
		if src != "" {
			return fail("source is not allowed for a tmpfs mount")
		}
		m := tmpfsMount(path.Clean(dst))
		if readonly {
			m.Options = append(m.Options, "ro")
		}
		if size != "" {
			n, err := parseBytes(size)
			if err != nil {
				return fail("tmpfs-size: %w", err)
			}
			if n > 0 { // docker leaves a size of 0 out: the kernel's default
				m.Options = append(m.Options, "size="+strconv.FormatInt(n, 10))
			}
		}
		if mode != "" {
			n, err := strconv.ParseUint(mode, 8, 32)
			if err != nil {
				return fail("tmpfs-mode %s is not an octal mode", quote.Value(mode))
			}
			if n > 0 {
				m.Options = append(m.Options, "mode="+strconv.FormatUint(n, 8))
			}
		}
		return m, nil
	case TypeVolume:
		if unsupported != "" {
			return fail("%s: %w", unsupported, ErrUnsupported)
		}
		if src != "" {
			if err := ValidateVolumeName(src); err != nil {
				return fail("%w", err)
			}
			m := namedVolumeMount(src, path.Clean(dst), readonly, nocopy, "z")
			m.Options = append(m.Options, optFromMount)
			for _, l := range volumeLabels {
				if err := ValidateLabel(l); err != nil {
					return fail("volume-label: %w", err)
				}
				m.Options = append(m.Options, optVolumeLabelPrefix+l)
			}
			return m, nil
		}
		if nocopy {
			return fail("volume-nocopy: an empty volume is %w; strata fills every anonymous volume from the image", ErrUnsupported)
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
		return fail("unknown type %s", quote.Value(typ))
	}
}

// ParseTmpfs parses one --tmpfs value, "/path[:options]", options being mount(8) words for
// tmpfs such as size=64m,mode=1777,ro. Docker's defaults are noexec, nosuid and nodev. As
// docker's ParseTmpfsOptions, an option must be a mount flag or one of tmpfs's size, mode,
// uid, gid, nr_inodes, nr_blocks and mpol; unlike docker, which leaves them to the kernel
// (whose answer at start is a bare "invalid argument"), their values are checked here. A size
// is given in bytes, but for one in percent of the RAM ("size=50%"), which the kernel takes.
func ParseTmpfs(v string) (mount.Mount, error) {
	dst, opts, _ := strings.Cut(v, ":")
	if !path.IsAbs(dst) {
		return mount.Mount{}, fmt.Errorf("invalid --tmpfs %s: path %s is not absolute", quote.Value(v), quote.Value(dst))
	}
	m := tmpfsMount(path.Clean(dst))
	if opts != "" {
		for _, o := range strings.Split(opts, ",") {
			o, err := tmpfsOption(o)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid --tmpfs %s: %w", quote.Value(v), err)
			}
			if o != "" {
				m.Options = append(m.Options, o)
			}
		}
	}
	return m, nil
}

// tmpfsOption checks one --tmpfs option and returns it as the init is to get it ("" to drop
// it), or says what is wrong with it, naming it.
func tmpfsOption(o string) (string, error) {
	key, val, hasValue := strings.Cut(o, "=")
	if !hasValue {
		switch o {
		case "", "defaults":
			return "", nil
		case "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec",
			"sync", "async", "dirsync", "mand", "nomand",
			"bind", "rbind", "private", "rprivate", "shared", "rshared", "slave", "rslave",
			"unbindable", "runbindable",
			// Mount flags (userMountStep), as docker takes them.
			"atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime",
			"strictatime", "nostrictatime":
			return o, nil
		case "remount":
			return "", fmt.Errorf("option remount: a new tmpfs is mounted, not remounted")
		case "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol":
			return "", fmt.Errorf("option %s needs a value (%s=...)", o, o)
		}
		return "", fmt.Errorf("unknown option %s", quote.Value(o))
	}
	bad := func(what string) error {
		return fmt.Errorf("option %s: %s is not %s", key, quote.Value(val), what)
	}
	switch key {
	case "size":
		if pct, ok := strings.CutSuffix(val, "%"); ok && pct != "" && strings.Trim(pct, "0123456789") == "" {
			return o, nil
		}
		n, err := parseBytes(val)
		if err != nil {
			return "", fmt.Errorf("option size: %w", err)
		}
		return "size=" + strconv.FormatInt(n, 10), nil
	case "mode":
		// The kernel reads an octal number and keeps its permission bits (& 07777).
		if _, err := strconv.ParseUint(val, 8, 32); err != nil {
			return "", bad("an octal mode")
		}
	case "uid", "gid":
		// (uid_t)-1 is no id: the kernel refuses it.
		if n, ok := kernelUint(val, 32); !ok || n == 1<<32-1 {
			return "", bad("a numeric id")
		}
	case "nr_inodes", "nr_blocks":
		// The kernel's memparse: a number, then a unit k, m, g, t, p or e at most.
		if _, ok := kernelUint(val, 64); !ok {
			num := val[:max(len(val)-1, 0)]
			if _, ok := kernelUint(num, 64); !ok || !strings.ContainsAny(val[len(num):], "kKmMgGtTpPeE") {
				return "", bad("a number")
			}
		}
	case "mpol":
		if !mpolPattern().MatchString(val) {
			return "", bad("a memory policy")
		}
	default:
		return "", fmt.Errorf("unknown option %s", quote.Value(o))
	}
	return o, nil
}

// kernelUint parses s as the kernel's kstrtoul with base 0 reads one: decimal, octal after
// a leading 0, hexadecimal after 0x; no sign, no Go-only "0o", "0b" or "_".
func kernelUint(s string, bits int) (uint64, bool) {
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, bits)
	return n, err == nil
}

// mpolPattern is a tmpfs memory policy as the kernel's mpol_parse_str reads one: a mode,
// an optional =static or =relative, and a node list (whose commas --tmpfs cannot carry).
// Compiled on first use, as sizePattern: this package's init runs at every strata and
// container start.
var mpolPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(default|prefer|bind|interleave|weighted_interleave|local)(=(static|relative))?(:[0-9-]+)?$`)
})

// tmpfsMount is a tmpfs at dst with docker's default options for --tmpfs and --mount.
func tmpfsMount(dst string) mount.Mount {
	return mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: dst, Options: []string{"nosuid", "nodev", "noexec"}}
}

// parseBytes parses a size as docker's RAMInBytes reads one (go-units): a decimal number, an
// optional space, then an optional unit k, m, g, t or p, each optionally followed by i and b
// ("64m", "1.5GiB", "512 kb", "100b"); units are binary (k = 1024).
func parseBytes(s string) (int64, error) {
	m := sizePattern().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %s", quote.Value(s))
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %s", quote.Value(s))
	}
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[strings.ToLower(m[2])]
	n := f * mult
	if n > 1<<62 {
		return 0, fmt.Errorf("invalid size %s: too large", quote.Value(s))
	}
	return int64(n), nil
}

// sizePattern is go-units' sizeRegex with one fraction at most: digits, not "1e3" or "NaN",
// which strconv.ParseFloat would take. Compiled on first use: a package-level regexp costs
// every strata and container start its compilation (~60 µs).
var sizePattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
})
