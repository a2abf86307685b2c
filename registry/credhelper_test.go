package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// TestCredentialHelperNameIsNoPath: docker-credential-<name> is a program in $PATH; a name
// with a slash in config.json (credsStore or credHelpers) must not become a path, run from the
// working directory with the user's credentials on its stdin. A pull, a login and a logout
// refuse it, saying why, and never run what it leads to.
func TestCredentialHelperNameIsNoPath(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	// The working directory holds docker-credential-x/, so "x/../evil" leads to ./evil.
	wd := t.TempDir()
	t.Chdir(wd)
	if err := os.Mkdir(filepath.Join(wd, "docker-credential-x"), 0o755); err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(wd, "ran")
	script := "#!/bin/sh\necho \"$1\" >> " + ran + "\ncat > /dev/null\necho '{\"Username\":\"alice\",\"Secret\":\"s3cret\"}'\n"
	if err := os.WriteFile(filepath.Join(wd, "evil"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	host := serve(t, basicAuth("alice", "s3cret"))
	for _, cfg := range []string{
		`{"credsStore":"x/../evil"}`,
		`{"credHelpers":{"` + host + `":"x/../evil"}}`,
		`{"credsStore":"x/../evil","auths":{"` + host + `":{"auth":"YWxpY2U6czNjcmV0"}}}`,
	} {
		t.Run(cfg, func(t *testing.T) {
			dockerConfigDir(t, cfg)
			opts := testOptions()
			opts.Keychain = nil
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Image(context.Background(), mustRef(t, host+"/app:1")); err == nil || !strings.Contains(err.Error(), "slash") {
				t.Errorf("Image = %v, want the helper's name refused", err)
			}
			if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err == nil || !strings.Contains(err.Error(), "slash") {
				t.Errorf("Login = %v, want the helper's name refused", err)
			}
			if err := Logout(host); err == nil || !strings.Contains(err.Error(), "slash") {
				t.Errorf("Logout = %v, want the helper's name refused", err)
			}
			if b, err := os.ReadFile(ran); err == nil {
				t.Fatalf("the program the name leads to ran: %q", b)
			}
		})
	}
}

// fakeHelper puts docker-credential-<name> on PATH, a shell script with body.
func fakeHelper(t *testing.T, name, body string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-"+name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// TestCredentialHelperHostile: a credential helper that hangs, prints without end, prints
// garbage or fails is bounded: the command fails in time, in one line that holds no terminal
// escape and no secret, and a helper's "not found" is an anonymous pull, as for docker.
func TestCredentialHelperHostile(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	old := credHelperTimeout
	t.Cleanup(func() { credHelperTimeout = old })
	host := serve(t, basicAuth("alice", "s3cret"))
	for _, tt := range []struct {
		name, body string
		want       string // in the error; "" for none
	}{
		// Not exec'd: the sleep outlives the shell, and holds its stdout.
		{"hangs", "sleep 5", "no answer within"},
		{"floods", "cat >/dev/null; yes hunter2", "more than 1024 KiB"},
		{"garbage-ok", "cat >/dev/null; printf '\\033[2J{\"Secret\":\"hunter2\"'", "not JSON credentials"},
		{"garbage-fail", "cat >/dev/null; printf '\\033]0;title\\007bad\\nthings\\n'; echo 'on stderr' >&2; exit 3", "exit status 3: ]0;title bad things on stderr"},
		{"missing", "cat >/dev/null; echo 'credentials not found in native keychain'; exit 1", ""},
		{"good", "cat >/dev/null; echo '{\"Username\":\"alice\",\"Secret\":\"s3cret\"}'", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Short for the helper that hangs only: the others must have time to answer on
			// a loaded machine.
			credHelperTimeout = old
			if tt.name == "hangs" {
				credHelperTimeout = 500 * time.Millisecond
			}
			fakeHelper(t, tt.name, tt.body)
			dockerConfigDir(t, `{"credsStore":"`+tt.name+`"}`)
			opts := testOptions()
			opts.Keychain = nil
			ref := mustRef(t, host+"/app:1")
			start := time.Now()
			err := Push(context.Background(), ref, randomImage(t), opts)
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("Push took %s", d)
			}
			switch {
			case tt.want == "" && tt.name == "missing":
				if !errors.Is(err, ErrUnauthorized) {
					t.Errorf("Push with no credentials in the helper = %v, want the registry's refusal", err)
				}
			case tt.want == "":
				if err != nil {
					t.Errorf("Push = %v", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Push = %v, want an error saying %q", err, tt.want)
				}
				if msg := err.Error(); strings.ContainsAny(msg, "\x1b\x07\n") || strings.Contains(msg, "hunter2") || len(msg) > 1024 {
					t.Errorf("error = %q, want one short line without escapes or the secret", msg)
				}
			}
		})
	}
}

// TestCredentialHelperCanceled: a credential helper that hangs is killed when the pull is
// canceled (Ctrl-C), not waited for.
func TestCredentialHelperCanceled(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	fakeHelper(t, "hang", "exec sleep 30")
	dockerConfigDir(t, `{"credsStore":"hang"}`)
	host := serve(t, nil)
	opts := testOptions()
	opts.Keychain = nil
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Image(ctx, mustRef(t, host+"/app:1"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Image canceled while the helper hangs = %v after %s, want the cancel at once", err, time.Since(start))
	}
}

// TestLoginCredentialHelperHangs: login and logout through a credential helper that hangs
// fail in time, and say so.
func TestLoginCredentialHelperHangs(t *testing.T) {
	old := credHelperTimeout
	credHelperTimeout = 500 * time.Millisecond
	t.Cleanup(func() { credHelperTimeout = old })
	fakeHelper(t, "hang", "exec sleep 30")
	dockerConfigDir(t, `{"credsStore":"hang"}`)
	host := serve(t, basicAuth("alice", "s3cret"))
	start := time.Now()
	if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("Login = %v, want the helper's timeout", err)
	}
	_ = Logout(host)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Login and Logout took %s", d)
	}
}

// TestLoginHelperAsKeychain: login stores credentials where the keychain (and docker) reads
// them: an empty credHelpers entry keeps a registry in auths in spite of credsStore, and
// Docker Hub's credHelpers key is its URL, not "index.docker.io". Login put them in the
// credsStore, where no pull looked.
func TestLoginHelperAsKeychain(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	store := filepath.Join(t.TempDir(), "store")
	fakeHelper(t, "fake", "echo \"$1\" >> "+store+"; cat >> "+store+"; echo 'credentials not found in native keychain'; exit 1")
	host := serve(t, basicAuth("alice", "s3cret"))
	path := dockerConfigDir(t, `{"credsStore":"fake","credHelpers":{"`+host+`":""}}`)
	if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err != nil {
		t.Fatalf("Login = %v", err)
	}
	if _, ok := readAuths(t, path)[host]; !ok {
		t.Errorf("Login stored no auths entry for %s, whose credHelpers entry is empty", host)
	}
	opts := testOptions()
	opts.Keychain = nil
	if err := Push(context.Background(), mustRef(t, host+"/app:1"), randomImage(t), opts); err != nil {
		t.Errorf("Push after Login = %v", err)
	}

	path = dockerConfigDir(t, `{"credHelpers":{"index.docker.io":"fake"}}`)
	if err := storeCredentials(dockerHub, "u", "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := readAuths(t, path)[hubAuthKey]; !ok {
		t.Errorf("Docker Hub's credentials are not in auths, where the keychain reads them")
	}
	if b, _ := os.ReadFile(store); strings.Contains(string(b), "store") {
		t.Errorf("the credential helper was asked to store: %q", b)
	}
}

// TestCredentialHelperIdentityToken: a helper's "<token>" user name means an identity token,
// and $DOCKER_AUTH_CONFIG comes before the helper, as for docker.
func TestCredentialHelperIdentityToken(t *testing.T) {
	fakeHelper(t, "tok", "cat >/dev/null; echo '{\"Username\":\"<token>\",\"Secret\":\"refresh\"}'")
	dockerConfigDir(t, `{"credsStore":"tok"}`)
	cf, err := loadCredentialsFile(os.Getenv("DOCKER_CONFIG") + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	ac, err := getAuthConfig(context.Background(), cf, "example.com")
	if err != nil || ac.IdentityToken != "refresh" || ac.Username != "" || ac.Password != "" {
		t.Errorf("getAuthConfig = %+v, %v; want the identity token", ac, err)
	}
	t.Setenv("DOCKER_AUTH_CONFIG", `{"auths":{"example.com":{"auth":"YWxpY2U6czNjcmV0"}}}`)
	ac, err = getAuthConfig(context.Background(), cf, "example.com")
	if err != nil || ac.Username != "alice" || ac.Password != "s3cret" {
		t.Errorf("getAuthConfig with DOCKER_AUTH_CONFIG = %+v, %v; want its credentials", ac, err)
	}
}

// TestLogoutOlderKeys: logout removes every auths entry the keychain would use for the
// registry, as docker's own older keys ("https://host/v2/", "http://host") and a repository's:
// it said "Not logged in" and left them, and the next pull still sent them.
func TestLogoutOlderKeys(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	host := serve(t, basicAuth("alice", "s3cret"))
	for _, key := range []string{"https://" + host + "/v2/", "http://" + host, host + "/app"} {
		t.Run(key, func(t *testing.T) {
			path := dockerConfigDir(t, `{"auths":{"`+key+`":{"auth":"YWxpY2U6czNjcmV0"},"other.example":{"auth":"eDp5"}}}`)
			opts := testOptions()
			opts.Keychain = nil
			ref := mustRef(t, host+"/app:1")
			if err := Push(context.Background(), ref, randomImage(t), opts); err != nil {
				t.Fatalf("Push with credentials keyed %s = %v", key, err)
			}
			if err := Logout(host); err != nil {
				t.Fatalf("Logout = %v", err)
			}
			auths := readAuths(t, path)
			if _, ok := auths[key]; ok || len(auths) != 1 {
				t.Errorf("auths after Logout = %v, want only other.example", auths)
			}
			if err := Push(context.Background(), ref, randomImage(t), opts); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("Push after Logout = %v, want it refused", err)
			}
		})
	}
}

// TestConcurrentLogins: logins and logouts at once each keep what the others wrote: every
// one rewrites the whole config.json, and the last one dropped the entries the others had
// just added.
func TestConcurrentLogins(t *testing.T) {
	for round := 0; round < 5; round++ {
		path := dockerConfigDir(t, `{"auths":{"gone.example":{"auth":"eDp5"}},"psFormat":"table"}`)
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- storeCredentials(fmt.Sprintf("reg%d.example", i), "u", "p")
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- Logout("gone.example")
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		auths := readAuths(t, path)
		for i := 0; i < 16; i++ {
			if _, ok := auths[fmt.Sprintf("reg%d.example", i)]; !ok {
				t.Fatalf("round %d: auths = %v, want reg%d.example there", round, auths, i)
			}
		}
		if _, ok := auths["gone.example"]; ok || len(auths) != 16 {
			t.Fatalf("round %d: auths = %v, want the 16 logins and not the logout's", round, auths)
		}
		if b, _ := os.ReadFile(path); !strings.Contains(string(b), "psFormat") {
			t.Fatalf("round %d: a field strata does not manage is gone:\n%s", round, b)
		}
		if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
			t.Fatalf("round %d: %d files beside config.json, want none", round, len(ents)-1)
		}
	}
}

// TestLogoutCreatesNothing: a logout with no Docker config directory creates none.
func TestLogoutCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "docker")
	t.Setenv("DOCKER_CONFIG", dir)
	if err := Logout("example.com"); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Logout = %v, want ErrNotLoggedIn", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Logout made %s: %v", dir, err)
	}
}

// TestLoginThroughDanglingSymlink: a config.json that is a symlink to a file not yet there
// (dotfiles set up before the first login) is written through, as docker does: login
// replaced the link with a file of its own.
func TestLoginThroughDanglingSymlink(t *testing.T) {
	realDir := t.TempDir()
	link := dockerConfigDir(t, "")
	if err := os.Symlink(filepath.Join(realDir, "config.json"), link); err != nil {
		t.Fatal(err)
	}
	if err := storeCredentials("example.com", "u", "p"); err != nil {
		t.Fatalf("storeCredentials = %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("config.json after login: %v, %v; want the symlink kept", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(realDir, "config.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the link's target: %v, %v; want a file of mode 0600", fi, err)
	}
	if _, ok := readAuths(t, link)["example.com"]; !ok {
		t.Errorf("the link's target has no credentials for example.com")
	}
}

// TestLoginErrorsSayLogin: a login that fails for the registry's fault says so in a login's
// words, not a pull's ("login to H: pulling registry H: …").
func TestLoginErrorsSayLogin(t *testing.T) {
	dockerConfigDir(t, "")
	for name, h := range map[string]http.HandlerFunc{
		"500": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
		"no realm": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Bearer service="x"`)
			http.Error(w, "{}", http.StatusUnauthorized)
		},
		"token garbage": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				w.Write([]byte("\x1b[2Jnot json"))
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="x"`)
			http.Error(w, "{}", http.StatusUnauthorized)
		},
	} {
		t.Run(name, func(t *testing.T) {
			host := strings.TrimPrefix(newServer(t, h).URL, "http://")
			err := Login(context.Background(), host, "alice", "s3cret", testOptions())
			if err == nil || !strings.HasPrefix(err.Error(), "login to "+host+": ") || strings.Contains(err.Error(), "pulling") ||
				strings.ContainsAny(err.Error(), "\x1b\n") {
				t.Errorf("Login = %q, want one line of a login's words", err)
			}
		})
	}
}

// TestLoginUserWithColon: a user name with a colon cannot be sent (Basic auth ends it at the
// colon) nor stored ("user:password"), so login refuses it before asking the registry,
// which checked "al" with password "ice:s3cret" and could let the login through.
func TestLoginUserWithColon(t *testing.T) {
	path := dockerConfigDir(t, "")
	host := serve(t, basicAuth("al", "ice:s3cret"))
	if err := Login(context.Background(), host, "al:ice", "s3cret", testOptions()); err == nil || !strings.Contains(err.Error(), "colon") {
		t.Errorf("Login(user al:ice) = %v, want it refused", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("config.json written: %v", err)
	}
}

// TestLoginHostEmpty: a server that names no host ("https://", as from an unset $REGISTRY in
// "https://$REGISTRY") is an error, not Docker Hub, which would get credentials meant for
// another registry. The scheme is read in any case, as a URL's is.
func TestLoginHostEmpty(t *testing.T) {
	for _, server := range []string{"https://", "http://", "/v2/", "HTTPS:///"} {
		if h, err := LoginHost(server); err == nil {
			t.Errorf("LoginHost(%q) = %q, want an error", server, h)
		}
	}
	if h, err := LoginHost("HTTPS://registry.example.com/v2/"); err != nil || h != "registry.example.com" {
		t.Errorf("LoginHost(HTTPS://registry.example.com/v2/) = %q, %v", h, err)
	}
}

// TestLoginKeepsOwner: as docker, a config.json rewritten by root keeps its owner: sudo -E
// strata login made a user's file root's, mode 0600, which the user's docker cannot read.
func TestLoginKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	path := dockerConfigDir(t, `{"auths":{}}`)
	if err := os.Chown(path, 65534, 65533); err != nil {
		t.Fatal(err)
	}
	if err := storeCredentials("example.com", "u", "p"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65533 {
		t.Errorf("config.json after login is owned by %d:%d, want 65534:65533", st.Uid, st.Gid)
	}
	if err := Logout("example.com"); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(path)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65533 {
		t.Errorf("config.json after logout is owned by %d:%d, want 65534:65533", st.Uid, st.Gid)
	}
}

// TestPodmanDockerHubKey: Podman's auth.json keys Docker Hub "docker.io" (and a repository
// "docker.io/library/alpine"); those credentials are Docker Hub's, where docker's lookup,
// which knows only "https://index.docker.io/v1/", found none and pulled anonymously.
func TestPodmanDockerHubKey(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	authFile := filepath.Join(t.TempDir(), "auth.json")
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	repo, err := name.NewRepository("alpine")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ key, user string }{
		{"docker.io", "hub"},
		{"docker.io/library/alpine", "repo"},
	} {
		entries := `"docker.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("hub:p")) + `"}`
		if tt.key != "docker.io" {
			entries += `,"` + tt.key + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(tt.user+":p")) + `"}`
		}
		write(t, authFile, `{"auths":{`+entries+`}}`)
		auth, err := (&dockerKeychain{}).Resolve(repo)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := auth.Authorization()
		if err != nil || cfg.Username != tt.user {
			t.Errorf("credentials for %s with auth.json key %s = %+v, %v; want user %s", repo, tt.key, cfg, err, tt.user)
		}
	}
}

// TestPodmanNamespaceKeys: auth.json keys for namespaces of one registry ("quay.io/orga",
// "quay.io/orgb/team") give a repository the credentials of its own namespace, the longest
// that has any, as containers/image matches them: docker's lookup of the registry matched
// any key on the host, one picked at random, and sent org A's credentials for org B's pulls.
func TestPodmanNamespaceKeys(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("DOCKER_CONFIG", "")
	authFile := filepath.Join(t.TempDir(), "auth.json")
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	entry := func(user string) string {
		return `{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":p")) + `"}`
	}
	write(t, authFile, `{"auths":{"quay.io/orga":`+entry("a")+`,"quay.io/orgb":`+entry("b")+
		`,"quay.io/orgb/team":`+entry("team")+`,"quay.io/orgz/app":`+entry("z")+`}}`)
	for repo, want := range map[string]string{
		"quay.io/orga/app":        "a",
		"quay.io/orgb/app":        "b",
		"quay.io/orgb/team/app":   "team",
		"quay.io/orgb/team/x/app": "team",
		"quay.io/orgz/app":        "z",
		// No key of its own: anonymous, as with podman, not org A's or B's at random.
		"quay.io/orgc/app":   "",
		"quay.io/orgz/other": "",
	} {
		r, err := name.NewRepository(repo)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 { // map order is random: once is not proof
			auth, err := (&dockerKeychain{}).Resolve(r)
			if err != nil {
				t.Fatal(err)
			}
			if cfg, err := auth.Authorization(); err != nil || cfg.Username != want {
				t.Fatalf("credentials for %s = %+v, %v; want user %s", repo, cfg, err, want)
			}
		}
	}
}

// TestNoHomeVariable: without $HOME (a systemd service with no User=), the Docker config is
// found in the home directory the user database gives, as docker finds it: login failed
// ("$HOME is not defined") and pulls went anonymous.
func TestNoHomeVariable(t *testing.T) {
	home := t.TempDir()
	old := userHome
	userHome = func() (string, error) { return home, nil }
	t.Cleanup(func() { userHome = old })
	t.Setenv("HOME", "")
	t.Setenv("DOCKER_CONFIG", "")
	host := serve(t, basicAuth("alice", "s3cret"))
	if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err != nil {
		t.Fatalf("Login without $HOME = %v", err)
	}
	if _, ok := readAuths(t, filepath.Join(home, ".docker", "config.json"))[host]; !ok {
		t.Fatalf("Login without $HOME stored nothing in %s", home)
	}
	opts := testOptions()
	opts.Keychain = nil
	if err := Push(context.Background(), mustRef(t, host+"/app:1"), randomImage(t), opts); err != nil {
		t.Errorf("Push without $HOME = %v, want the stored credentials used", err)
	}
}

// TestLoginKeepsValues: login keeps what it does not manage as it was written, a number in
// another registry's entry included: decoded as a float64 and written back, a 20-digit one
// lost its last digits.
func TestLoginKeepsValues(t *testing.T) {
	path := dockerConfigDir(t, `{"auths":{"other.example":{"auth":"eDp5","n":12345678901234567891,"f":1.10}},"x":{"big":98765432109876543210}}`)
	if err := storeCredentials("example.com", "u", "p"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"12345678901234567891", "98765432109876543210", "1.10"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config.json after login lacks %s:\n%s", want, b)
		}
	}
}

// TestLogoutHelperStuck: a logout whose credential helper never answers its erase (it hangs,
// or prints without end) fails and says so: it said "not logged in", exit 0, with the
// credentials maybe still in the helper.
func TestLogoutHelperStuck(t *testing.T) {
	old := credHelperTimeout
	credHelperTimeout = 300 * time.Millisecond
	t.Cleanup(func() { credHelperTimeout = old })
	for name, body := range map[string]string{"hang": "exec sleep 30", "flood": "cat >/dev/null; exec yes"} {
		fakeHelper(t, name, body)
		dockerConfigDir(t, `{"credsStore":"`+name+`"}`)
		err := Logout("example.com")
		if err == nil || errors.Is(err, ErrNotLoggedIn) || !strings.Contains(err.Error(), "docker-credential-"+name+" erase") {
			t.Errorf("Logout through a helper that never answers (%s) = %v, want its failure", name, err)
		}
	}
}

// TestLogoutNamespace: logout of a namespace ("quay.io/orga", Podman's auth.json keys) removes
// that key and those under it, as podman logout does, and no other: it removed every key of
// the host, the registry's own and another namespace's too, which the keychain gives to their
// own repositories.
func TestLogoutNamespace(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	path := dockerConfigDir(t, `{"auths":{"quay.io":{"auth":"eDp5"},"quay.io/orga":{"auth":"eDp5"},`+
		`"https://quay.io/orga/team":{"auth":"eDp5"},"quay.io/orgab":{"auth":"eDp5"},"quay.io/orgb":{"auth":"eDp5"}}}`)
	if got, err := LogoutTarget("https://quay.io/orga/"); err != nil || got != "quay.io/orga" {
		t.Errorf("LogoutTarget = %q, %v; want quay.io/orga", got, err)
	}
	if err := Logout("quay.io/orga"); err != nil {
		t.Fatalf("Logout(quay.io/orga) = %v", err)
	}
	auths := readAuths(t, path)
	for _, k := range []string{"quay.io", "quay.io/orgab", "quay.io/orgb"} {
		if _, ok := auths[k]; !ok {
			t.Errorf("Logout(quay.io/orga) removed %s: auths = %v", k, auths)
		}
	}
	if len(auths) != 3 {
		t.Errorf("auths after Logout(quay.io/orga) = %v, want quay.io, quay.io/orgab and quay.io/orgb", auths)
	}
	if err := Logout("quay.io/orgc"); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Logout(quay.io/orgc) = %v, want ErrNotLoggedIn", err)
	}
	for _, s := range []string{"quay.io", "https://quay.io/v2/", "quay.io/v1"} {
		if got, _ := LogoutTarget(s); got != "quay.io" {
			t.Errorf("LogoutTarget(%s) = %q, want the registry", s, got)
		}
	}
}
