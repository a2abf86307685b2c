package registry

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/strata-run/strata/internal/platforms"
	"github.com/strata-run/strata/internal/quote"
)

// PlatformError says an index has no manifest for the wanted platform, and lists the ones it
// has so the user can pick one with --platform. It matches ErrNoMatchingPlatform.
type PlatformError struct {
	Ref       string
	Want      v1.Platform
	Available []v1.Platform
}

func (e *PlatformError) Error() string {
	avail := make([]string, 0, len(e.Available))
	for _, p := range e.Available {
		s := platformString(p)
		if p.OS == "" && p.Architecture == "" {
			// A platform of empty words: "/" said nothing.
			s = "one naming no OS or architecture"
		}
		avail = append(avail, s)
	}
	list := "none"
	if len(avail) > 0 {
		// The index's own words: bounded and without control characters, as a registry's are.
		list = oneLine(strings.Join(avail, ", "))
	}
	return fmt.Sprintf("no matching manifest for %s in the manifest list of %s (available: %s)",
		platformString(e.Want), e.Ref, list)
}

// Is makes errors.Is(err, ErrNoMatchingPlatform) true.
func (e *PlatformError) Is(target error) bool { return target == ErrNoMatchingPlatform }

// DefaultPlatform is the platform strata runs: linux on this binary's architecture.
func DefaultPlatform() v1.Platform { return platforms.Host() }

// ParsePlatform parses "os/arch[/variant]" as --platform does: "linux/arm64/v8", "linux/amd64".
// The names users type for the same platform mean it, as docker takes them (containerd's
// platforms.Parse): any case, "x86_64" and "aarch64" as uname says, "armhf", "7" for "v7".
// One word alone is an operating system, on this host's architecture ("linux"), or else an
// architecture, of linux ("arm64", "aarch64"), as docker takes `--platform arm64`.
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err == nil && p.OS != "" && p.Architecture == "" && !strings.Contains(s, "/") {
		word := userPlatform(v1.Platform{OS: p.OS, Architecture: p.OS})
		switch {
		case knownOS[word.OS]:
			p.OS, p.Architecture = word.OS, DefaultPlatform().Architecture
		case knownArch[word.Architecture]:
			p.OS, p.Architecture, p.Variant = DefaultPlatform().OS, word.Architecture, word.Variant
		default:
			return v1.Platform{}, fmt.Errorf("invalid platform %s: not a known operating system or architecture; want os/arch[/variant]", quote.Value(s))
		}
	}
	if err != nil || p.OS == "" || p.Architecture == "" || !platformWord(p.OS) || !platformWord(p.Architecture) || p.Variant != "" && !platformWord(p.Variant) {
		return v1.Platform{}, fmt.Errorf("invalid platform %s: want os/arch[/variant]", quote.Value(s))
	}
	return userPlatform(*p), nil
}

// platformWord reports whether s may be one part of a platform: letters, digits, '_' and '-',
// as containerd's parser takes them ("../..", spaces or escapes are no platform).
func platformWord(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return s != ""
}

// knownOS and knownArch are the operating systems and architectures Go knows (go tool dist
// list), as containerd's platforms.Parse knows them to read one word alone.
var (
	knownOS = fieldSet("aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
		"linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos")
	knownArch = fieldSet("386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips",
		"mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv",
		"riscv64", "s390", "s390x", "sparc", "sparc64", "wasm")
)

// userPlatform spells p as images do (platforms.Spell): lower case, the architecture's Go
// name, a variant "vN". Matching normalizes both sides the same way (platforms.Matches).
func userPlatform(p v1.Platform) v1.Platform { return platforms.Spell(p) }

// matchPlatform picks the first manifest of an index for want; an index lists its preferred
// manifest first, as Docker picks.
func matchPlatform(ref string, manifests []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	var avail []v1.Platform
	for _, m := range manifests {
		if m.Platform == nil || !knownKind(m.MediaType) {
			continue
		}
		if platforms.Matches(want, *m.Platform) {
			return m, nil
		}
		// BuildKit lists attestation manifests as unknown/unknown; they are not images.
		if m.Platform.OS != "unknown" {
			avail = append(avail, *m.Platform)
		}
	}
	return v1.Descriptor{}, &PlatformError{Ref: ref, Want: want, Available: avail}
}

// knownKind reports whether an index entry of media type mt may be what runs: an image
// manifest or an index (of OCI's or Docker's), one that names no type, or a Docker schema 1
// manifest (refused later in its own words). The image-spec says an entry of a type the
// implementation does not know "MUST be ignored": an SBOM or a signature listed with the
// platform of the image it describes, ahead of it, was taken for the image, and the pull
// failed ("an artifact, not a container image") where the image listed after it runs.
func knownKind(mt types.MediaType) bool {
	return mt == "" || mt.IsImage() || mt.IsIndex() || mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// fieldSet is the set of names.
func fieldSet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}
