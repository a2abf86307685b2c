package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrInvalidReference is wrapped by every error ParseReference returns, so callers can tell a
// typo in an argument from a registry failure.
var ErrInvalidReference = errors.New("invalid reference format")

const (
	// dockerHub is how Docker names Docker Hub in references it prints.
	dockerHub = "docker.io"
	// dockerHubAPI is the host that actually serves Docker Hub's registry API.
	dockerHubAPI = "index.docker.io"
	// officialPrefix is the namespace of Docker Hub's official images: "alpine" means
	// "library/alpine".
	officialPrefix = "library/"
	defaultTag     = "latest"
	// maxNameLength is distribution's limit on a repository's path (RepositoryNameTotalLengthMax),
	// its domain not counted: "library/" counts for a Docker Hub name, as docker parses
	// "alpine" as "docker.io/library/alpine".
	maxNameLength = 255
	// maxReferenceLength bounds a whole reference: a name, a tag (128) and the longest
	// digest (sha512, 135) with their separators fit well within it.
	maxReferenceLength = 1024
)

// The grammar of docker/distribution's reference package (distribution/reference/reference.go);
// grammar.go matches each part:
//
//	reference  := name [ ":" tag ] [ "@" digest ]
//	name       := [domain '/'] path-component ['/' path-component]*
//	domain     := host [':' port-number]
//	tag        := /[\w][\w.-]{0,127}/
//	digest     := algorithm ":" hex
//
// digestHexes are the digest algorithms strata knows and their hex lengths.
var digestHexes = map[string]int{"sha256": 64, "sha512": 128}

// Reference is a parsed, normalized image reference: a registry domain, a repository path, and
// a tag, a digest, or both. Its zero value is not a valid reference; get one from
// ParseReference.
type Reference struct {
	domain string // "docker.io", never "index.docker.io"
	path   string // "library/alpine"
	tag    string // "" only when digest is set and no tag was given
	digest string // "sha256:…" or ""
}

// ParseReference parses s with docker/distribution's grammar and normalizes it as Docker does:
// "alpine" is docker.io/library/alpine:latest, a first component with a dot, a colon or named
// localhost is a registry, and a reference with neither tag nor digest gets tag latest.
// Every error wraps ErrInvalidReference.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("%w: empty reference", ErrInvalidReference)
	}
	if len(s) > maxReferenceLength {
		// Refused before any matching, and not quoted: a RepoTag of a megabyte in a hostile
		// archive must not become a message of a megabyte.
		return Reference{}, fmt.Errorf("%w: %d characters, more than the %d a reference can have", ErrInvalidReference, len(s), maxReferenceLength)
	}
	rest := s
	var r Reference
	if i := strings.Index(rest, "@"); i >= 0 {
		r.digest = rest[i+1:]
		rest = rest[:i]
		if err := checkDigest(r.digest); err != nil {
			return Reference{}, fmt.Errorf("%w: %q: %w", ErrInvalidReference, s, err)
		}
	}
	// A tag follows the last colon, unless that colon belongs to a domain's port
	// ("localhost:5000/x" has no tag).
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		r.tag = rest[i+1:]
		rest = rest[:i]
		if !matchTag(r.tag) {
			return Reference{}, fmt.Errorf("%w: %q: invalid tag %q", ErrInvalidReference, s, r.tag)
		}
	}
	r.domain, r.path = splitDomain(rest)
	if r.domain != dockerHub && !matchDomain(r.domain) {
		return Reference{}, fmt.Errorf("%w: %q: invalid registry %q", ErrInvalidReference, s, r.domain)
	}
	if !matchPath(r.path, false) {
		if matchPath(r.path, true) {
			return Reference{}, fmt.Errorf("%w: repository name (%s) must be lowercase", ErrInvalidReference, r.path)
		}
		return Reference{}, fmt.Errorf("%w: %q", ErrInvalidReference, s)
	}
	if len(r.path) > maxNameLength {
		return Reference{}, fmt.Errorf("%w: repository name must not be more than %d characters", ErrInvalidReference, maxNameLength)
	}
	// Docker refuses a bare 64-hex name: it would read as an image ID, not a repository.
	if r.domain == dockerHub && matchHex64(strings.TrimPrefix(r.path, officialPrefix)) && !strings.Contains(rest, "/") {
		return Reference{}, fmt.Errorf("%w: invalid repository name (%s), cannot specify 64-byte hexadecimal strings", ErrInvalidReference, rest)
	}
	if r.tag == "" && r.digest == "" {
		r.tag = defaultTag
	}
	return r, nil
}

// ValidRegistry reports whether host is a registry an image reference can name: a domain
// with an optional port, an IPv6 address in brackets, or docker.io, by the grammar's domain.
func ValidRegistry(host string) bool { return host == dockerHub || matchDomain(host) }

// splitDomain separates the registry from the repository path the way Docker does: the first
// component is a registry only if it looks like a host (a dot or a port), is localhost, or has
// upper case (which a path may not); otherwise the registry is Docker Hub, where one-component
// names live under library/.
func splitDomain(name string) (domain, path string) {
	i := strings.Index(name, "/")
	if i < 0 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost" && strings.ToLower(name[:i]) == name[:i]) {
		domain, path = dockerHub, name
	} else {
		domain, path = name[:i], name[i+1:]
	}
	if domain == dockerHubAPI {
		domain = dockerHub
	}
	if domain == dockerHub && !strings.Contains(path, "/") {
		path = officialPrefix + path
	}
	return domain, path
}

func checkDigest(d string) error {
	if !matchDigest(d) {
		return errors.New("invalid checksum digest format")
	}
	algo, hex, _ := strings.Cut(d, ":")
	n, ok := digestHexes[algo]
	if !ok {
		return fmt.Errorf("unsupported digest algorithm %q", algo)
	}
	if len(hex) != n {
		return errors.New("invalid checksum digest length")
	}
	if strings.ToLower(hex) != hex {
		// go-digest's words: its hex of the right length must be lower case.
		return errors.New("invalid checksum digest format")
	}
	return nil
}

// String prints the reference in full as Docker does: "docker.io/library/alpine:latest",
// "localhost:5000/x:1", "docker.io/library/alpine@sha256:…"; a reference with both keeps both.
func (r Reference) String() string {
	s := r.domain + "/" + r.path
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// Registry returns the registry domain as Docker prints it: "docker.io" for Docker Hub.
func (r Reference) Registry() string { return r.domain }

// Repository returns the repository path within the registry: "library/alpine".
func (r Reference) Repository() string { return r.path }

// Name returns the registry and repository: "docker.io/library/alpine".
func (r Reference) Name() string { return r.domain + "/" + r.path }

// Tag returns the tag, or "" for a reference by digest alone.
func (r Reference) Tag() string { return r.tag }

// Digest returns the digest ("sha256:…"), or "" for a reference by tag.
func (r Reference) Digest() string { return r.digest }

// FamiliarName returns the repository as `docker images` shows it: "alpine" for Docker Hub's
// official images, "user/app" for other Hub images, the full name elsewhere.
func (r Reference) FamiliarName() string {
	if r.domain != dockerHub {
		return r.Name()
	}
	return strings.TrimPrefix(r.path, officialPrefix)
}

// Familiar returns the short form Docker prints: "alpine:latest", "user/app@sha256:…",
// "localhost:5000/x:1".
func (r Reference) Familiar() string {
	s := r.FamiliarName()
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// WithTag returns the reference with tag t and no digest, e.g. to name the tag a push writes.
func (r Reference) WithTag(t string) (Reference, error) {
	if !matchTag(t) {
		return Reference{}, fmt.Errorf("%w: invalid tag %q", ErrInvalidReference, t)
	}
	r.tag, r.digest = t, ""
	return r, nil
}

// WithDigest returns the reference pinned to digest d, keeping its tag for display.
func (r Reference) WithDigest(d string) (Reference, error) {
	if err := checkDigest(d); err != nil {
		return Reference{}, fmt.Errorf("%w: %w", ErrInvalidReference, err)
	}
	r.digest = d
	return r, nil
}

// ByDigest returns the reference without its tag when it has a digest, and r unchanged
// otherwise: "alpine:3@sha256:…" is "alpine@sha256:…", as docker pulls and records it (the
// tag of a reference with a digest is ignored, so it must not name the image afterwards).
func (r Reference) ByDigest() Reference {
	if r.digest != "" {
		r.tag = ""
	}
	return r
}

// repository returns go-containerregistry's repository on the given registry host (the
// reference's own, or a mirror's), with plain HTTP allowed when insecure.
func (r Reference) repository(host string, insecure bool) (name.Repository, error) {
	if host == dockerHub {
		host = dockerHubAPI
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	// The registry is given apart from the path: go-containerregistry would read "A0/x" as a
	// Docker Hub repository, where Docker (and ParseReference) see a registry named A0.
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("%w: registry %s: %w", ErrInvalidReference, host, err)
	}
	return reg.Repo(r.path), nil
}

// remote returns the go-containerregistry reference on host: by digest when the reference has
// one (the tag is then only a label), else by tag.
func (r Reference) remote(host string, insecure bool) (name.Reference, error) {
	repo, err := r.repository(host, insecure)
	if err != nil {
		return nil, err
	}
	if r.digest != "" {
		return repo.Digest(r.digest), nil
	}
	return repo.Tag(r.tag), nil
}

// IsZero reports whether r is the zero Reference, which ParseReference never returns.
func (r Reference) IsZero() bool { return r == Reference{} }

// MarshalText writes the reference as String does, so a Reference can sit in JSON state.
func (r Reference) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses text with ParseReference.
func (r *Reference) UnmarshalText(text []byte) error {
	parsed, err := ParseReference(string(text))
	if err != nil {
		return err
	}
	*r = parsed
	return nil
}
