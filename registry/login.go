package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/docker/cli/cli/config/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sys/unix"

	"github.com/strata-run/strata/internal/quote"
)

// hubAuthKey is the key Docker has always used for Docker Hub in config.json.
const hubAuthKey = "https://index.docker.io/v1/"

// Login checks user and password against registry ("" means docker.io) and then stores them
// as `docker login` does: in the credential helper config.json names for that registry
// (credHelpers, else credsStore), or else as an "auths" entry with base64 "user:password" in
// $DOCKER_CONFIG/config.json or ~/.docker/config.json. Wrong credentials are an *Error of
// kind ErrUnauthorized and store nothing.
func Login(ctx context.Context, registry, user, password string, opts Options) error {
	host, err := LoginHost(registry)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if user == "" || password == "" {
		return fmt.Errorf("login to %s: username and password are required", host)
	}
	if strings.ContainsRune(user, ':') {
		// Basic auth, and config.json's base64 "user:password", end the name at the first
		// colon: the registry would check another name than the one given, and pulls would
		// send yet another.
		return fmt.Errorf("login to %s: a username cannot hold a colon", host)
	}
	// A config.json that cannot be read or parsed fails the login before the registry is
	// asked: the credentials could not be stored without losing what the file holds.
	// So does a credential helper it names that cannot be run.
	_, cfg, err := loadDockerConfig()
	if err == nil {
		_, err = cfg.helper(authKey(host))
	}
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	if err := verifyLogin(ctx, host, user, password, opts); err != nil {
		return err
	}
	if err := storeCredentialsContext(ctx, host, user, password); err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	return nil
}

// PlainFile returns the config.json a login to registry ("" means docker.io) stores the
// credentials in, base64 but unencrypted, and true, when no credential helper is configured
// for it; false when a helper holds them or the file cannot be read.
func PlainFile(registry string) (string, bool) {
	host, err := LoginHost(registry)
	if err != nil {
		return "", false
	}
	path, cfg, err := loadDockerConfig()
	if err != nil {
		return "", false
	}
	if helper, err := cfg.helper(authKey(host)); err != nil || helper != "" {
		return "", false
	}
	return path, true
}

// LoginStored is `docker login SERVER` without a user name or password: it checks the
// credentials already stored for the registry, as a pull would find them, against it, and
// stores nothing. announce, if credentials were found, is told their user name ("" for a
// token) before the registry is asked. It returns false, and no error, when none are stored;
// an *Error of kind ErrUnauthorized when the registry refuses them.
func LoginStored(ctx context.Context, registry string, opts Options, announce func(user string)) (bool, error) {
	host, err := LoginHost(registry)
	if err != nil {
		return false, fmt.Errorf("login: %w", err)
	}
	// A config.json that cannot be read fails this login as it fails the others, rather than
	// being warned about and taken for no credentials.
	if _, _, err := loadDockerConfig(); err != nil {
		return false, fmt.Errorf("login to %s: %w", host, err)
	}
	p, err := NewPuller(opts)
	if err != nil {
		return false, err
	}
	apiHost := host
	if host == dockerHub {
		apiHost = dockerHubAPI
	}
	reg, err := name.NewRegistry(apiHost)
	if err != nil {
		return false, fmt.Errorf("login: invalid registry %q: %w", host, err)
	}
	auth, err := authn.Resolve(ctx, p.keychain, reg)
	if err != nil {
		return false, fmt.Errorf("login to %s: %w", host, err)
	}
	if auth == authn.Anonymous {
		return false, nil
	}
	ac, err := authn.Authorization(ctx, auth)
	if err != nil {
		return false, fmt.Errorf("login to %s: %w", host, err)
	}
	if *ac == (authn.AuthConfig{}) {
		return false, nil
	}
	if announce != nil {
		user := ac.Username
		if user == "" && ac.Auth != "" {
			if b, err := base64.StdEncoding.DecodeString(ac.Auth); err == nil {
				user, _, _ = strings.Cut(string(b), ":")
			}
		}
		announce(user)
	}
	return true, verifyLoginWith(ctx, p, host, auth)
}

// verifyLogin does the auth handshake with the credentials (for a bearer realm, that fetches
// a token with them) and then asks for /v2/, which only answers 200 to a client it accepts.
func verifyLogin(ctx context.Context, host, user, password string, opts Options) error {
	p, err := NewPuller(opts)
	if err != nil {
		return err
	}
	return verifyLoginWith(ctx, p, host, authn.FromConfig(authn.AuthConfig{Username: user, Password: password}))
}

// verifyLoginWith is verifyLogin with the credentials of auth, through p's transports.
func verifyLoginWith(ctx context.Context, p *Puller, host string, auth authn.Authenticator) error {
	ep := endpoint{host: host, insecure: p.insecure(host)}
	apiHost := host
	if host == dockerHub {
		apiHost = dockerHubAPI
	}
	var nopts []name.Option
	if ep.insecure {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(apiHost, nopts...)
	if err != nil {
		return fmt.Errorf("login: invalid registry %q: %w", host, err)
	}
	base := p.secure
	if ep.insecure {
		base = p.insecRT
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, relayRealms(guardHome(base, reg.RegistryStr()), reg.RegistryStr()), nil)
	if err == nil {
		err = getBase(ctx, rt, reg)
	}
	if err != nil && ctx.Err() != nil {
		// Said so: the failed request's own words are net/http's `Get "URL": context canceled`.
		return fmt.Errorf("login to %s: interrupted: %w", host, context.Cause(ctx))
	}
	if err != nil {
		c := classify(err, opPull, "registry "+host, host, host)
		var e *Error
		if errors.As(c, &e) && e.Kind == ErrUnauthorized {
			return &Error{Kind: ErrUnauthorized, Registry: host, Err: e.Err,
				Msg: fmt.Sprintf("login to %s: incorrect username or password", host)}
		}
		return asOtherThanPull(c, "login to", host)
	}
	return nil
}

func getBase(ctx context.Context, rt http.RoundTripper, reg name.Registry) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return transport.CheckError(resp, http.StatusOK)
}

// Logout removes the credentials for registry ("" means docker.io) from the credential helper
// and from config.json, or for a namespace of it ("quay.io/org") that key's alone (see
// logoutNamespace). It returns ErrNotLoggedIn if there were none.
func Logout(registry string) error {
	return LogoutContext(context.Background(), registry)
}

// LogoutContext is Logout that stops when ctx ends: while it waits for another login or
// logout to be done with config.json, or for a credential helper.
func LogoutContext(ctx context.Context, registry string) error {
	return LogoutWarn(ctx, registry, nil)
}

// LogoutWarn is LogoutContext that tells warn, if set, of a credential helper that failed to
// erase the credentials for another reason than having none: docker warns "could not erase
// credentials", and they may be in the helper still.
func LogoutWarn(ctx context.Context, registry string, warn func(string)) error {
	host, err := LoginHost(registry)
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	path, cfg, err := loadDockerConfig()
	if err != nil {
		return fmt.Errorf("logout from %s: %w", host, err)
	}
	if ns := namespaceOf(registry); ns != "" {
		return logoutNamespace(ctx, path, host, host+"/"+ns)
	}
	key := authKey(host)
	found := false
	var eraseErr error
	helper, err := cfg.helper(key)
	if err != nil {
		return fmt.Errorf("logout from %s: %w", host, err)
	}
	if helper != "" {
		// docker-credential-* erase exits non-zero for "not found" too; whether the entry
		// existed is only known from config.json, so an erase failure is not an error here.
		// A helper that never answered is: it may hold the credentials still, and "not
		// logged in" would say they are gone.
		_, err := runCredHelper(ctx, helper, "erase", []byte(key))
		if errors.Is(err, errHelperStuck) || ctx.Err() != nil {
			return fmt.Errorf("logout from %s: %w", host, err)
		}
		if err == nil {
			found = true
		} else if !errors.Is(err, errHelperNotFound) {
			eraseErr = err
		}
	}
	err = updateDockerConfig(ctx, path, false, func(cfg *dockerConfig) bool {
		// Every entry the keychain would find for host goes: docker's older keys
		// ("https://host/v2/", "http://host") and a repository's ("host/app") too.
		removed := false
		for k := range cfg.auths {
			if normalizeHost(k) == host || normalizeHost(credentials.ConvertToHostname(k)) == host {
				delete(cfg.auths, k)
				removed = true
			}
		}
		found = found || removed
		if removed && eraseErr != nil && warn != nil {
			// config.json said the helper held them (docker's login leaves an empty entry),
			// and the helper could not erase them: as docker, said, not an error.
			warn(fmt.Sprintf("could not erase the credentials of %s from its credential helper: %s", host, oneLine(eraseErr.Error())))
		}
		return removed
	})
	if err != nil {
		return fmt.Errorf("logout from %s: %w", host, err)
	}
	if !found {
		return &Error{Kind: ErrNotLoggedIn, Registry: host, Msg: "not logged in to " + host}
	}
	return nil
}

// LogoutTarget is what Logout(server) removes, as it is printed: the registry's host, or for
// a namespace or repository of it ("quay.io/org", a key of Podman's auth.json) "host/org".
func LogoutTarget(server string) (string, error) {
	host, err := LoginHost(server)
	if err != nil {
		return "", err
	}
	if ns := namespaceOf(server); ns != "" {
		return host + "/" + ns, nil
	}
	return host, nil
}

// namespaceOf returns the namespace or repository path server names under its registry
// ("org/team" of "quay.io/org/team/"), or "" for a registry alone, with docker's URL forms
// ("https://host/v1/", "host/v2/") counted as the registry.
func namespaceOf(server string) string {
	s := server
	if scheme, rest, ok := strings.Cut(s, "://"); ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		s = rest
	}
	_, path, _ := strings.Cut(s, "/")
	switch path = strings.Trim(path, "/"); path {
	case "v1", "v2":
		return ""
	}
	return path
}

// logoutNamespace removes the auths entries of target ("quay.io/org") and of the namespaces
// and repositories under it, and only those, as podman logout removes the key it is given:
// the registry's own key and its other namespaces' (Podman's "quay.io/orgb") are credentials
// of their own, which the keychain gives to their repositories alone. Credential helpers
// keep registries only, so none is asked.
//
// With no key of target there, the registry's own credentials, if config.json holds some (an
// auths entry, or a credHelpers entry of its own), are kept, and the error says so (see KeptFor): `strata login host/org`, as docker login, stores
// them as the registry's, and a logout of the same argument left them behind saying only "Not
// logged in".
func logoutNamespace(ctx context.Context, path, host, target string) error {
	found, kept := false, false
	err := updateDockerConfig(ctx, path, false, func(cfg *dockerConfig) bool {
		for k := range cfg.auths {
			if n := normalizeKey(k); n == target || strings.HasPrefix(n, target+"/") {
				delete(cfg.auths, k)
				found = true
			} else if n == host {
				kept = true
			}
		}
		// A helper of the host's own, credHelpers[host], holds its credentials. credsStore
		// is every host's helper, whatever it holds: asking it ("list") could prompt or
		// hang, so a setup with credsStore alone gets no warning rather than a false one.
		var helpers map[string]string
		if h, ok := cfg.raw["credHelpers"]; ok && json.Unmarshal(h, &helpers) == nil && helpers[authKey(host)] != "" {
			kept = true
		}
		return found
	})
	if err != nil {
		return fmt.Errorf("logout from %s: %w", target, err)
	}
	if !found {
		e := &Error{Kind: ErrNotLoggedIn, Registry: target, Msg: "not logged in to " + target}
		if kept {
			e.Err = &keptError{host: host}
			e.Msg += "; the credentials of " + host + " itself are kept (`strata logout " + host + "` removes them)"
		}
		return e
	}
	return nil
}

// keptError is the cause of an ErrNotLoggedIn for a namespace whose registry has credentials
// of its own, which the logout kept.
type keptError struct{ host string }

func (e *keptError) Error() string { return "the credentials of " + e.host + " are kept" }

// KeptFor returns the registry whose own credentials Logout of one of its namespaces kept when
// it found none of that namespace, with ErrNotLoggedIn: "quay.io" for a logout of quay.io/org
// after `login quay.io/org`, which stores them as quay.io's, as docker login does.
func KeptFor(err error) (string, bool) {
	var k *keptError
	if errors.As(err, &k) {
		return k.host, true
	}
	return "", false
}

// normalizeKey is an auths key as host[/path], its host as normalizeHost makes it.
func normalizeKey(k string) string {
	if _, rest, ok := strings.Cut(k, "://"); ok {
		k = rest
	}
	host, path, _ := strings.Cut(strings.TrimSuffix(k, "/"), "/")
	if path == "" {
		return normalizeHost(host)
	}
	return normalizeHost(host) + "/" + path
}

// configLockWait bounds the wait for another login or logout to be done with config.json.
var configLockWait = time.Minute

// updateDockerConfig reads config.json at path again, has change change it and writes it back
// if change says so, all under an exclusive lock on its directory: logins and logouts at once
// (a script logging in to three registries in parallel) each rewrite the whole file, and
// without the lock the last one dropped what the others had just written. Without create, a
// directory that is not there is an empty config, left as it is. The wait for the lock ends
// with ctx.
func updateDockerConfig(ctx context.Context, path string, create bool, change func(*dockerConfig) bool) error {
	if _, err := os.Stat(filepath.Dir(path)); !create && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := lockConfigDir(ctx, filepath.Dir(path))
	if err != nil {
		return err
	}
	defer unlock()
	_, cfg, err := loadDockerConfig()
	if err != nil {
		return err
	}
	if !change(cfg) {
		return nil
	}
	return cfg.write(path)
}

// lockConfigDir takes an exclusive flock(2) on dir, creating it (0700) if need be: a lock on
// the directory leaves no lock file of strata's among docker's. Another process's lock is
// waited for, up to configLockWait, or until ctx ends: the user's Ctrl-C stops the wait at
// once (it was ignored for up to that minute).
func lockConfigDir(ctx context.Context, dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	// O_DIRECTORY: anything else there fails at once, a FIFO included, never blocks.
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	deadline := time.Now().Add(configLockWait)
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			unix.Close(fd)
			return nil, fmt.Errorf("locking %s: %w", dir, err)
		}
		if time.Now().After(deadline) {
			unix.Close(fd)
			return nil, fmt.Errorf("locking %s: another login or logout has held it for %s", dir, configLockWait)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("interrupted while another login or logout holds %s: %w", dir, context.Cause(ctx))
		}
	}
}

// LoginHost returns the registry a login or logout names ("" means docker.io). As docker
// (ConvertToHostname), a URL's path is dropped: "https://registry.example.com/v2/" is
// registry.example.com. A URL with credentials in it is refused without being quoted, so
// the password does not end up in the message, or in a CI log.
func LoginHost(server string) (string, error) {
	s := server
	if scheme, rest, ok := strings.Cut(s, "://"); ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		s = rest
	}
	s, _, _ = strings.Cut(s, "/")
	if strings.Contains(s, "@") {
		return "", errors.New("the server must not hold credentials (user:password@): give them with --username and --password-stdin")
	}
	if s == "" && server != "" {
		// "https://" or "/v2/", as from an unset $REGISTRY: not Docker Hub, which would get
		// credentials meant for another registry.
		return "", fmt.Errorf("no registry in %s", quote.Value(server))
	}
	host := normalizeHost(s)
	if host == "" {
		host = dockerHub
	}
	return host, nil
}

// authKey is the config.json key for host: Docker Hub keeps its historical URL.
func authKey(host string) string {
	if host == dockerHub {
		return hubAuthKey
	}
	return host
}

// dockerConfig is config.json with every field strata does not manage kept as it was.
type dockerConfig struct {
	raw   map[string]json.RawMessage
	auths map[string]map[string]json.RawMessage // values as they were: 1e400 or a 20-digit number stays
}

func configPath() (string, error) {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json"), nil
	}
	home, err := homeDir()
	if err != nil {
		return "", fmt.Errorf("finding docker config: %w", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

func loadDockerConfig() (string, *dockerConfig, error) {
	path, err := configPath()
	if err != nil {
		return "", nil, err
	}
	cfg := &dockerConfig{raw: map[string]json.RawMessage{}, auths: map[string]map[string]json.RawMessage{}}
	// Bounded, and a pipe is refused, not read forever. Unlike a pull, which goes on without
	// credentials, login and logout fail: they would overwrite a file they could not read.
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, cfg, nil
	}
	if err != nil {
		return "", nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return path, cfg, nil
	}
	if err := json.Unmarshal(data, &cfg.raw); err != nil {
		return "", nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if cfg.raw == nil { // the file says null
		cfg.raw = map[string]json.RawMessage{}
	}
	if a, ok := cfg.raw["auths"]; ok {
		if err := json.Unmarshal(a, &cfg.auths); err != nil {
			return "", nil, fmt.Errorf("parsing %s: auths: %w", path, err)
		}
		if cfg.auths == nil {
			cfg.auths = map[string]map[string]json.RawMessage{}
		}
	}
	return path, cfg, nil
}

// helper returns the credential helper that holds key's credentials, or "", as docker's
// GetAuthConfig picks it and so as the keychain reads them: credHelpers[key] when there is
// such an entry ("" there keeps the registry in auths), else credsStore. Docker Hub's key is
// its URL, "https://index.docker.io/v1/", there too.
func (c *dockerConfig) helper(key string) (string, error) {
	var helpers map[string]string
	if h, ok := c.raw["credHelpers"]; ok {
		// Wrong types fail the file for docker and for the keychain alike.
		if err := json.Unmarshal(h, &helpers); err != nil {
			return "", fmt.Errorf("credHelpers: %w", err)
		}
	}
	var store string
	if s, ok := c.raw["credsStore"]; ok {
		if err := json.Unmarshal(s, &store); err != nil {
			return "", fmt.Errorf("credsStore: %w", err)
		}
	}
	name := configuredHelper(helpers, store, key)
	if err := checkHelperName(name); err != nil {
		return "", err
	}
	return name, nil
}

// write replaces config.json atomically, readable only by its owner since it holds secrets.
func (c *dockerConfig) write(path string) (err error) {
	auths, err := json.Marshal(c.auths)
	if err != nil {
		return err
	}
	c.raw["auths"] = auths
	data, err := json.MarshalIndent(c.raw, "", "\t")
	if err != nil {
		return err
	}
	// As docker: a config.json that is a symlink (dotfiles kept elsewhere) is written through,
	// not replaced by a file beside the user's own, dangling or not.
	path, err = followLinks(path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config.json.tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.Remove(tmp.Name()))
		}
	}()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// As docker: the file keeps its owner. A root strata (sudo -E, HOME kept) writing a
	// user's config.json made it root's, mode 0600, and the user's docker could no longer
	// read it.
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
			if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil && os.Geteuid() == 0 {
				tmp.Close()
				return fmt.Errorf("writing %s: keeping its owner: %w", path, err)
			}
		}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// followLinks returns the file path leads to through symbolic links, which need not exist.
func followLinks(path string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return "", fmt.Errorf("writing %s: %w", path, unix.ELOOP)
}

func storeCredentials(host, user, password string) error {
	return storeCredentialsContext(context.Background(), host, user, password)
}

// storeCredentialsContext stores user and password for host as docker login does; a
// credential helper it runs is killed when ctx ends.
func storeCredentialsContext(ctx context.Context, host, user, password string) error {
	path, cfg, err := loadDockerConfig()
	if err != nil {
		return err
	}
	key := authKey(host)
	helper, err := cfg.helper(key)
	if err != nil {
		return err
	}
	if helper != "" {
		creds, err := json.Marshal(map[string]string{"ServerURL": key, "Username": user, "Secret": password})
		if err != nil {
			return err
		}
		if _, err := runCredHelper(ctx, helper, "store", creds); err != nil {
			return err
		}
		// As docker's native store: an auths entry with no credentials in it says where they
		// are, and replaces any left in the file. docker logout looks for the registry there
		// only: without it, after a strata login, it said "Not logged in" and left them in the
		// helper.
		return updateDockerConfig(ctx, path, true, func(cfg *dockerConfig) bool {
			cfg.auths[key] = map[string]json.RawMessage{}
			return true
		})
	}
	return updateDockerConfig(ctx, path, true, func(cfg *dockerConfig) bool {
		auth, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte(user + ":" + password)))
		cfg.auths[key] = map[string]json.RawMessage{"auth": auth}
		return true
	})
}

// asOtherThanPull words c, an error classify worded for a pull from host, for what (a login,
// a search): a pull's words ("pulling registry HOST: …") say what failed, but not that a
// login did.
func asOtherThanPull(c error, what, host string) error {
	var e *Error
	if errors.As(c, &e) {
		msg := e.Msg
		for _, p := range []string{opPull.ing() + " registry " + host + ": ", opPull.ing() + " " + host + ": "} {
			msg = strings.TrimPrefix(msg, p)
		}
		return &Error{Kind: e.Kind, Registry: host, Err: e.Err, Msg: what + " " + host + ": " + msg}
	}
	return fmt.Errorf("%s %s: %w", what, host, c)
}
