package sharebench

import (
	"fmt"
	"net/url"
	"strings"
)

// Registry is the registry a user benchmarks against, from `--registry URL`.
type Registry struct {
	// Host is host[:port], as references name it.
	Host string
	// Insecure is set for an http:// URL: the pulls use plain HTTP.
	Insecure bool
}

// ParseRegistry reads an http:// or https:// URL, or a bare host[:port] (which means
// https). A path, query or credentials in the URL are an error: they would be dropped.
func ParseRegistry(s string) (Registry, error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return Registry{}, fmt.Errorf("registry %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Registry{}, fmt.Errorf("registry %q: want an http:// or https:// URL", raw)
	}
	if u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return Registry{}, fmt.Errorf("registry %q: want only a scheme and host[:port]", raw)
	}
	return Registry{Host: u.Host, Insecure: u.Scheme == "http"}, nil
}

// Qualify names image in r unless the image names a registry of its own, as docker does: a
// first path component with a dot or a colon, or "localhost", is a registry host.
func (r Registry) Qualify(image string) string {
	if r.Host == "" {
		return image
	}
	if first, _, ok := strings.Cut(image, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return image
	}
	return r.Host + "/" + image
}
