package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/internal/quote"
)

// Options configures a Puller, Push and Login. The zero value pulls for linux/<GOARCH> from
// the upstream registries with the user's Docker credentials.
type Options struct {
	// Platform selects the manifest from an index. Zero means linux/<runtime.GOARCH>; an
	// empty arm64 variant matches v8 and an empty arm variant matches v7, as Docker does.
	Platform v1.Platform
	// Mirrors are --registry-mirror URLs for docker.io, e.g. "http://127.0.0.1:5000", tried
	// in order before Docker Hub itself. A URL must name only a scheme and host[:port].
	Mirrors []string
	// Insecure allows plain HTTP and skips TLS verification for every registry of this
	// command (--insecure).
	Insecure bool
	// InsecureRegistries are hosts ("host" or "host:port") for which Insecure holds.
	InsecureRegistries []string
	// ConfigPath is the registries config file, <root>/registries.json: per-registry mirrors
	// and insecure flags. A missing file is no configuration; see Config for the format.
	ConfigPath string
	// Keychain finds credentials. Nil means Docker's: ~/.docker/config.json (or
	// $DOCKER_CONFIG/config.json, else Podman's auth.json) with its credential helpers. A
	// file there that cannot be read or parsed is warned about, through Warn, and the
	// command goes on without credentials, as Docker does.
	Keychain authn.Keychain
	// Warn, if set, hears the warnings of a command, one line each: a config.json that
	// cannot be used. It is called at most once per warning and Puller.
	Warn func(string)
	// UserAgent is sent with every request; empty means "strata".
	UserAgent string
	// PushProgress, if set, hears about each layer of a Push: Preparing, then Layer already
	// exists, or Pushing and Pushed. It is called from several goroutines at once.
	PushProgress func(PushEvent)

	// retry overrides the retry policy, so tests need not sleep for seconds.
	retry *retryPolicy
	// net fakes DNS and connections, so tests can play public hosts on 127.0.0.1.
	net *netHooks
}

// Config is the registries config file (<root>/registries.json). Keys are registry hosts as
// written in references ("docker.io", "registry.local:5000"):
//
//	{
//	  "registries": {
//	    "docker.io":           {"mirrors": ["https://mirror.example.com", "http://127.0.0.1:5000"]},
//	    "registry.local:5000": {"insecure": true}
//	  }
//	}
//
// Mirrors are tried in order before the registry itself; a mirror that fails in any way (down,
// 404, 500, wrong credentials) is skipped. Insecure allows plain HTTP and skips TLS
// verification for that host. Unknown fields are an error, so a typo is not silently ignored.
// docs/registries.md has the user's version of this.
type Config struct {
	Registries map[string]RegistryConfig `json:"registries"`
}

// RegistryConfig is one registry's entry in Config.
type RegistryConfig struct {
	Mirrors  []string `json:"mirrors,omitempty"`
	Insecure bool     `json:"insecure,omitempty"`
}

// LoadConfig reads a registries config file. A missing file is an empty Config, not an error,
// so a fresh root needs no file.
func LoadConfig(path string) (*Config, error) {
	cfg := &Config{}
	if path == "" {
		return cfg, nil
	}
	// Bounded, and a named pipe is refused rather than waited on: os.ReadFile of a FIFO
	// nobody writes to held every pull and push forever.
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registries config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("parsing registries config %s: %w", path, err)
	}
	// What follows the object is refused too: a second object (two files run together) was
	// dropped unread, its mirrors and insecure flags with it.
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("parsing registries config %s: more after the JSON object at byte %d", path, len(data)-len(rest)+1)
	}
	norm := make(map[string]RegistryConfig, len(cfg.Registries))
	given := make(map[string]string, len(cfg.Registries))
	for _, host := range slices.Sorted(maps.Keys(cfg.Registries)) {
		rc := cfg.Registries[host]
		for _, m := range rc.Mirrors {
			if _, err := parseMirror(m); err != nil {
				return nil, fmt.Errorf("parsing registries config %s: registry %s: %w", path, quote.Value(host), err)
			}
		}
		// Two keys of one registry ("docker.io" and "index.docker.io") kept one of them,
		// which one changing from run to run with Go's map order.
		n := normalizeHost(host)
		if other, ok := given[n]; ok {
			return nil, fmt.Errorf("parsing registries config %s: registry %s is given twice, as %s and as %s",
				path, quote.Value(n), quote.Value(other), quote.Value(host))
		}
		given[n] = host
		norm[n] = rc
	}
	cfg.Registries = norm
	return cfg, nil
}

// normalizeHost maps Docker Hub's aliases to the name references use.
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://"), "/")
	if h == dockerHubAPI || h == "registry-1.docker.io" || h == "index.docker.io/v1" {
		return dockerHub
	}
	return h
}

// mirror is a parsed mirror URL.
type mirror struct {
	host      string
	plainHTTP bool
}

// parseMirror accepts "scheme://host[:port]" as Docker's --registry-mirror does: a mirror
// serves the same repository paths as the registry it mirrors, so a path would be ambiguous.
// Errors say what is wrong in their own words, the mirror quoted and cut: net/url's own
// (`parse "http://a\x01b": net/url: invalid control character in URL`) quote it again, whole.
func parseMirror(s string) (mirror, error) {
	bad := func(why string) (mirror, error) {
		return mirror{}, fmt.Errorf("invalid mirror %s: %s", quote.Value(RedactMirror(s)), why)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return bad("it holds a control character")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL; want scheme://host[:port]")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("scheme must be http or https")
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return bad("want scheme://host[:port] only")
	}
	return mirror{host: u.Host, plainHTTP: u.Scheme == "http"}, nil
}

// RedactMirror is mirror s with the password of its user:password@, if any, shown as
// "xxxxx", as docker's "username/password not allowed in URI" shows it: a mirror with
// credentials is refused, and what says so (or strata info) must not print them. The
// credentials are taken to be what comes before the last "@", whether or not s parses: a
// password with a "/" in it ("https://u:pa/ss@h") is no URL's, and was shown whole.
func RedactMirror(s string) string {
	prefix, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return s
	}
	return prefix + user + ":xxxxx" + rest[at:]
}

// endpoint is one place to try for a repository: a mirror or the registry itself.
type endpoint struct {
	host     string // as printed; "docker.io" for Docker Hub
	insecure bool   // plain HTTP allowed and TLS unverified
	mirror   bool
}

// endpoints lists where to look for domain's repositories, mirrors first.
func (p *Puller) endpoints(domain string) []endpoint {
	var eps []endpoint
	var mirrors []mirror
	if domain == dockerHub {
		mirrors = append(mirrors, p.mirrors...)
	}
	for _, m := range p.cfg.Registries[domain].Mirrors {
		if pm, err := parseMirror(m); err == nil {
			mirrors = append(mirrors, pm)
		}
	}
	for _, m := range mirrors {
		eps = append(eps, endpoint{host: m.host, insecure: m.plainHTTP || p.insecure(m.host), mirror: true})
	}
	return append(eps, endpoint{host: domain, insecure: p.insecure(domain)})
}

// insecure reports whether host may use plain HTTP and unverified TLS. Loopback hosts always
// may: Docker's default insecure-registries is 127.0.0.0/8, so a local test registry with a
// self-signed certificate works without flags, as it does with Docker.
func (p *Puller) insecure(host string) bool {
	host = normalizeHost(host)
	return p.opts.Insecure || p.cfg.Registries[host].Insecure || isLoopback(host) ||
		slices.ContainsFunc(p.opts.InsecureRegistries, func(h string) bool { return normalizeHost(h) == host })
}

// retryPolicy is how the transport retries: attempts in all, the first wait, doubled each
// time, and the most a Retry-After header may make it wait. stall is how long a request may
// get nothing from the registry before it fails as timed out (zero: forever); see stallGuard.
type retryPolicy struct {
	attempts      int
	backoff       time.Duration
	maxRetryAfter time.Duration
	// notice is the shortest Retry-After wait that is told to Options.Warn.
	notice time.Duration
	stall  time.Duration
}

// defaultRetry gives a flaky registry about 3.5 s over four attempts. Retry-After is honoured
// up to 30 s, once: Docker Hub's rate limit asks for hours, and a CLI should fail and say so
// instead. A wait of 5 s or more is told, as it starts, so that a pull is not silent meanwhile.
// A registry that sends nothing for a minute is taken for dead: a slow link still sends.
var defaultRetry = retryPolicy{attempts: 4, backoff: 500 * time.Millisecond, maxRetryAfter: 30 * time.Second, notice: 5 * time.Second, stall: DefaultStallLimit}

// DefaultStallLimit is how long a registry request may get nothing before it fails as timed
// out.
const DefaultStallLimit = time.Minute

// isLoopback reports whether host[:port] names this machine.
func isLoopback(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	h = strings.Trim(h, "[]")
	// Host names are case-insensitive: docker, which resolves the name, finds LOCALHOST on
	// 127.0.0.1 as well.
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
