package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/strata-run/strata/internal/quote"
)

// maxDockerConfig is the largest config.json (or auth.json) strata reads. Real ones are a few
// KiB; a bigger one is not read into memory at all.
const maxDockerConfig = 4 << 20

// dockerKeychain finds credentials where go-containerregistry's DefaultKeychain does: Docker's
// config.json ($DOCKER_CONFIG, else ~/.docker), else Podman's auth.json ($REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers, $XDG_CONFIG_HOME/containers), with the credential helpers they
// name. A file that is there but cannot be used (unreadable, not JSON, a pipe, over
// maxDockerConfig) is not an error, as it is for DefaultKeychain: Docker then warns "WARNING:
// Error loading config file" and goes on without credentials, and so does strata, warning once
// through warn. A credential helper that fails is still an error: the file asked for it.
type dockerKeychain struct {
	warn func(string)
	once sync.Once
	mu   sync.Mutex
}

var (
	_ authn.Keychain        = (*dockerKeychain)(nil)
	_ authn.ContextKeychain = (*dockerKeychain)(nil)
)

// Resolve returns the credentials for r, or Anonymous.
func (k *dockerKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

// ResolveContext returns the credentials for r, or Anonymous. A credential helper it runs is
// killed when ctx ends.
func (k *dockerKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	// The credential helpers of one file are not run at once, as DefaultKeychain does not.
	k.mu.Lock()
	defer k.mu.Unlock()
	path := credentialsFile()
	if path == "" {
		return authn.Anonymous, nil
	}
	cf, err := loadCredentialsFile(path)
	if err != nil {
		k.once.Do(func() {
			if k.warn != nil {
				k.warn(oneLine(err.Error()) + "; going on without credentials")
			}
		})
		return authn.Anonymous, nil
	}
	found := func(ac types.AuthConfig) authn.Authenticator {
		return authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password,
			Auth: ac.Auth, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken})
	}
	// The repository's own key, then, as containers/image matches auth.json keys, each of
	// its namespaces ("quay.io/org/team", "quay.io/org"), then the registry's: docker's
	// lookup of the registry alone matches any key on its host, one picked at random where
	// there are several (Podman's "quay.io/orgA" and "quay.io/orgB"), so it is given the
	// file without the namespace keys: a repository of no stored namespace gets the
	// registry's credentials or none, as with podman, never another namespace's.
	hostOnly := withoutNamespaceKeys(cf)
	keys := append(append([]string{r.String()}, namespaces(r)...), r.RegistryStr())
	if r.String() == r.RegistryStr() {
		keys = keys[1:] // a registry (a login's): its helper asked once, not twice
	}
	for _, key := range keys {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		if key != r.RegistryStr() && key != authn.DefaultAuthKey {
			// The repository or a namespace: an auths entry of its own only, no credential
			// helper asked. Helpers hold registries, and docker asks them for nothing else:
			// asked for "host/app", credsStore ran in place of the registry's own credHelpers
			// entry, and one that failed (credsStore "desktop", copied from a Mac, not
			// installed) failed every pull and push that docker made with the host's helper.
			if ac, ok := cf.GetAuthConfigs()[key]; ok && hasCredentials(ac) {
				return found(ac), nil
			}
			continue
		}
		// The registry's key, which docker would match to any on its host.
		ac, err := getAuthConfig(ctx, hostOnly, key)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s in %s: %w", key, path, err)
		}
		ac.ServerAddress = "" // set by GetAuthConfig, whether it found anything or not
		if ac != (types.AuthConfig{}) {
			return found(ac), nil
		}
	}
	if r.RegistryStr() == name.DefaultRegistry {
		// Podman (containers/image) keys Docker Hub "docker.io", a repository of it
		// "docker.io/library/alpine": docker's lookup above knows only its own URL key.
		for _, key := range append(append([]string{r.String()}, namespaces(r)...), r.RegistryStr()) {
			key = dockerHub + strings.TrimPrefix(key, name.DefaultRegistry)
			if ac, ok := cf.GetAuthConfigs()[key]; ok && hasCredentials(ac) {
				return found(ac), nil
			}
		}
	}
	return authn.Anonymous, nil
}

// withoutNamespaceKeys returns cf, or a copy of it without the auths keys that name a
// namespace or repository of a registry ("quay.io/org", Podman's): what is left are the keys
// of registries, bare or as URLs ("host", "https://host", "https://host/v1/", "/v2/").
func withoutNamespaceKeys(cf *configfile.ConfigFile) *configfile.ConfigFile {
	auths := cf.GetAuthConfigs()
	kept := make(map[string]types.AuthConfig, len(auths))
	for k, ac := range auths {
		rest := k
		if i := strings.Index(rest, "://"); i >= 0 {
			rest = rest[i+3:]
		}
		_, path, _ := strings.Cut(rest, "/")
		switch strings.Trim(path, "/") {
		case "", "v1", "v2":
			kept[k] = ac
		}
	}
	if len(kept) == len(auths) {
		return cf
	}
	c := *cf
	c.AuthConfigs = kept
	return &c
}

// namespaces returns the namespaces of r's repository, longest first, with the registry:
// "quay.io/org/team" and "quay.io/org" for quay.io/org/team/app; none for a registry.
func namespaces(r authn.Resource) []string {
	repo, ok := strings.CutPrefix(r.String(), r.RegistryStr()+"/")
	if !ok {
		return nil
	}
	var out []string
	for i := strings.LastIndex(repo, "/"); i > 0; i = strings.LastIndex(repo, "/") {
		repo = repo[:i]
		out = append(out, r.RegistryStr()+"/"+repo)
	}
	return out
}

// hasCredentials reports whether ac holds any.
func hasCredentials(ac types.AuthConfig) bool {
	return ac.Username != "" || ac.Password != "" || ac.IdentityToken != "" || ac.RegistryToken != ""
}

// getAuthConfig is docker's cf.GetAuthConfig(key), with its credential helper run by
// runCredHelper: docker's own runs it with no time limit and reads all it prints.
func getAuthConfig(ctx context.Context, cf *configfile.ConfigFile, key string) (types.AuthConfig, error) {
	acKey := dockerAuthKey(key)
	helper := configuredHelper(cf.CredentialHelpers, cf.CredentialsStore, acKey)
	if err := checkHelperName(helper); err != nil {
		return types.AuthConfig{}, err
	}
	if helper == "" {
		return cf.GetAuthConfig(key)
	}
	// As docker: credentials in $DOCKER_AUTH_CONFIG come before the helper's.
	if os.Getenv(configfile.DockerEnvConfigKey) != "" {
		if ac, err := configfile.New("").GetAuthConfig(key); err == nil {
			ac.ServerAddress = ""
			if ac != (types.AuthConfig{}) {
				return ac, nil
			}
		}
	}
	// As docker's native store: the auths entry (a registrytoken) under the helper's answer.
	ac, _ := credentials.NewFileStore(cf).Get(acKey)
	ac.Username, ac.Password, ac.IdentityToken = "", "", ""
	out, err := runCredHelper(ctx, helper, "get", []byte(acKey))
	if errors.Is(err, errHelperNotFound) {
		return ac, nil
	}
	if err != nil {
		return types.AuthConfig{}, err
	}
	var c struct{ Username, Secret string }
	if err := json.NewDecoder(bytes.NewReader(out)).Decode(&c); err != nil {
		// Not quoted: whatever it is, it may hold the secret.
		return types.AuthConfig{}, fmt.Errorf("%s get: its answer is not JSON credentials (%d bytes)", helperProgram(helper), len(out))
	}
	if c.Username == tokenUsername {
		ac.IdentityToken = c.Secret
	} else {
		ac.Username, ac.Password = c.Username, c.Secret
	}
	return ac, nil
}

// tokenUsername is the user name with which a credential helper holds an identity token.
const tokenUsername = "<token>"

// credHelperTimeout bounds a run of a credential helper: they answer at once, or after a
// network round trip for a cloud's; one that hangs must not hang the command with it.
var credHelperTimeout = 30 * time.Second

// maxHelperOutput bounds what a credential helper may print: credentials are a few KiB.
const maxHelperOutput = 1 << 20

// helperNotFound is what a docker-credential-helpers helper prints when it has no
// credentials for a server (credentials.errCredentialsNotFoundMessage).
const helperNotFound = "credentials not found in native keychain"

// errHelperStuck is a credential helper killed for hanging or for printing without end: it
// never answered.
var errHelperStuck = errors.New("killed")

// errHelperNotFound is the helper's answer that it holds no credentials for a server.
var errHelperNotFound = errors.New(helperNotFound)

// helperProgram is the program of the credential helper name, quoted if need be.
func helperProgram(name string) string {
	p := "docker-credential-" + name
	if strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.+", r))
	}) {
		return quote.Value(p)
	}
	return p
}

// runCredHelper runs docker-credential-<helper> <action>, found in $PATH (never through a
// shell), with input on its stdin, and returns what it printed on stdout, the protocol of
// github.com/docker/docker-credential-helpers. It is killed when ctx ends, after
// credHelperTimeout, or once it has printed more than maxHelperOutput. An error quotes what
// it printed in one line, cut; errHelperNotFound is its answer that it has nothing for
// input.
func runCredHelper(ctx context.Context, helper, action string, input []byte) ([]byte, error) {
	if err := checkHelperName(helper); err != nil {
		return nil, err
	}
	if helper == "" {
		return nil, errors.New("no credential helper")
	}
	prog := helperProgram(helper)
	hctx, cancel := context.WithTimeout(ctx, credHelperTimeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, "docker-credential-"+helper, action)
	cmd.Stdin = bytes.NewReader(input)
	stdout := &capBuffer{max: maxHelperOutput, full: cancel}
	stderr := &capBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A child of the helper that keeps its stdout open does not keep the command waiting.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case stdout.over:
		return nil, fmt.Errorf("%s %s: %w: it printed more than %d KiB", prog, action, errHelperStuck, maxHelperOutput>>10)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s %s: %w", prog, action, ctx.Err())
	case hctx.Err() != nil:
		return nil, fmt.Errorf("%s %s: %w: no answer within %s", prog, action, errHelperStuck, credHelperTimeout)
	case err != nil:
		said := strings.TrimSpace(stdout.buf.String())
		if said == helperNotFound {
			return nil, errHelperNotFound
		}
		said = unlikeSecret(said)
		if e := unlikeSecret(strings.TrimSpace(stderr.buf.String())); e != "" {
			said = strings.TrimSpace(said + " " + e)
		}
		if secret := inputSecret(input); secret != "" {
			said = strings.ReplaceAll(said, secret, "***")
		}
		if said = oneLine(said); said != "" {
			return nil, fmt.Errorf("%s %s: %w: %s", prog, action, err, said)
		}
		return nil, fmt.Errorf("%s %s: %w", prog, action, err)
	}
	return stdout.buf.Bytes(), nil
}

// unlikeSecret returns what a failed credential helper printed, to be quoted in the error, or
// in its place how much it printed when that looks like credentials: JSON (its answer, printed
// before it exited non-zero) or anything with a "Secret" key in it. A helper that printed
// {"Username":…,"Secret":…} and exited 1 had the password quoted in the error, and in CI logs.
func unlikeSecret(said string) string {
	if said == "" {
		return ""
	}
	if strings.HasPrefix(said, "{") || strings.HasPrefix(said, "[") || strings.Contains(strings.ToLower(said), `"secret"`) {
		return fmt.Sprintf("(%d bytes, not shown: they may hold the secret)", len(said))
	}
	return said
}

// inputSecret is the Secret of a store's input, {"ServerURL":…,"Username":…,"Secret":…}, or "".
func inputSecret(input []byte) string {
	var in struct{ Secret string }
	if json.Unmarshal(input, &in) != nil || len(in.Secret) < 4 {
		return ""
	}
	return in.Secret
}

// capBuffer keeps the first max bytes written to it. Past them it drops the rest, or, with
// full set, calls full and fails the write. (No bytes.Buffer embedded: io.Copy would use
// its ReadFrom, which reads without end.)
type capBuffer struct {
	buf  bytes.Buffer
	max  int
	full func()
	over bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	room := max(b.max-b.buf.Len(), 0)
	if len(p) <= room {
		return b.buf.Write(p)
	}
	b.buf.Write(p[:room])
	if b.full == nil {
		return len(p), nil
	}
	b.over = true
	b.full()
	return room, errHelperOutput
}

var errHelperOutput = errors.New("credential helper output over the limit")

// homeDir is the user's home directory: $HOME, else, as docker finds it, the one the user
// database gives (a systemd service has no $HOME unless it names a User=).
func homeDir() (string, error) {
	home, err := os.UserHomeDir()
	if home != "" {
		return home, nil
	}
	if h, uerr := userHome(); uerr == nil && h != "" {
		return h, nil
	}
	return "", err
}

// userHome is the home directory of the user strata runs as, from the user database.
var userHome = func() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", err
	}
	return u.HomeDir, nil
}

// configuredHelper is the credential helper docker runs for key, a config.json key
// ("https://index.docker.io/v1/" for Docker Hub): credHelpers[key] when there is such an entry,
// else credsStore. "" means none: the credentials are in auths.
func configuredHelper(helpers map[string]string, store, key string) string {
	if h, ok := helpers[key]; ok {
		return h
	}
	return store
}

// dockerAuthKey is the key docker's GetAuthConfig looks key up with: Docker Hub's names are
// its historical URL.
func dockerAuthKey(key string) string {
	if key == dockerHub || key == dockerHubAPI {
		return hubAuthKey
	}
	return key
}

// checkHelperName refuses a credential helper name that would not be a program in $PATH:
// docker-credential-<name> is looked up in $PATH only, and a name with a slash would make it
// a path, run from wherever it leads ("../../tmp/x" from the working directory), with the
// user's credentials on its stdin. A control character would reach the terminal in messages.
// "" is no helper.
func checkHelperName(name string) error {
	if strings.ContainsFunc(name, func(r rune) bool { return r == '/' || r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("credential helper %s: a helper's name must not hold a slash or a control character (docker-credential-NAME is looked up in $PATH)", quote.Value(name))
	}
	return nil
}

// credentialsFile is the file DefaultKeychain reads, in its order, or "" if there is none.
// Anything at Docker's paths counts, a directory or a broken link too: it is what the user
// meant, and it gets the warning.
func credentialsFile() string {
	home, _ := homeDir()
	dockerDir := os.Getenv("DOCKER_CONFIG")
	var docker []string
	if home != "" {
		docker = append(docker, filepath.Join(home, ".docker", "config.json"))
	}
	if dockerDir != "" {
		docker = append(docker, filepath.Join(dockerDir, "config.json"))
	}
	for _, p := range docker {
		if _, err := os.Lstat(p); err == nil {
			if path, err := configPath(); err == nil {
				return path
			}
			return p
		}
	}
	var podman []string
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		podman = append(podman, filepath.Clean(f))
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		podman = append(podman, filepath.Join(d, "containers", "auth.json"))
	}
	configHome := os.Getenv("XDG_CONFIG_HOME")
	if configHome == "" && home != "" {
		configHome = filepath.Join(home, ".config")
	}
	if configHome != "" {
		podman = append(podman, filepath.Join(configHome, "containers", "auth.json"))
	}
	for _, p := range podman {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// loadCredentialsFile parses path as Docker's config.json; a missing file is an empty one.
func loadCredentialsFile(path string) (*configfile.ConfigFile, error) {
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return configfile.New(path), nil
	}
	if err != nil {
		return nil, err
	}
	cf, err := config.LoadFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	cf.Filename = path
	return cf, nil
}

// readConfigFile reads a config.json: a regular file (opened without blocking, so a named pipe
// nobody writes to is refused instead of hanging the command) of at most maxDockerConfig bytes.
// Errors name the file.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		what := "a device"
		switch {
		case fi.IsDir():
			what = "a directory"
		case fi.Mode()&fs.ModeNamedPipe != 0:
			what = "a named pipe"
		case fi.Mode()&fs.ModeSocket != 0:
			what = "a socket"
		}
		return nil, fmt.Errorf("reading %s: it is %s, not a regular file", path, what)
	}
	if fi.Size() > maxDockerConfig {
		return nil, fmt.Errorf("reading %s: it is %d bytes, over the %d MiB a config file may have", path, fi.Size(), maxDockerConfig>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxDockerConfig+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxDockerConfig {
		return nil, fmt.Errorf("reading %s: it is over the %d MiB a config file may have", path, maxDockerConfig>>20)
	}
	return data, nil
}
