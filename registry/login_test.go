package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dockerConfigDir points DOCKER_CONFIG at a fresh directory with config.json holding content
// (none if empty), and returns the file's path.
func dockerConfigDir(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	path := filepath.Join(dir, "config.json")
	if content != "" {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func readAuths(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	var cfg struct {
		Auths map[string]map[string]any `json:"auths"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("config.json is not JSON: %v\n%s", err, data)
	}
	return cfg.Auths
}

func TestLoginLogout(t *testing.T) {
	basicHost := serve(t, basicAuth("alice", "s3cret"))
	ts := &tokenServer{user: "alice", pass: "s3cret"}
	bearerHost := serve(t, ts.wrap)

	for _, host := range []string{basicHost, bearerHost} {
		t.Run(host, func(t *testing.T) {
			path := dockerConfigDir(t, `{"auths":{"other.example":{"auth":"eDp5"}},"psFormat":"table"}`)
			ctx := context.Background()

			err := Login(ctx, host, "alice", "wrong", testOptions())
			if !errors.Is(err, ErrUnauthorized) || err.Error() != "login to "+host+": incorrect username or password" {
				t.Fatalf("Login(wrong password) = %v, want ErrUnauthorized", err)
			}
			if _, ok := readAuths(t, path)[host]; ok {
				t.Fatalf("Login(wrong password) stored credentials")
			}

			if err := Login(ctx, "https://"+host, "alice", "s3cret", testOptions()); err != nil {
				t.Fatalf("Login = %v", err)
			}
			auths := readAuths(t, path)
			if got, want := auths[host]["auth"], base64.StdEncoding.EncodeToString([]byte("alice:s3cret")); got != want {
				t.Errorf("auths[%s].auth = %v, want %v", host, got, want)
			}
			if auths["other.example"]["auth"] != "eDp5" {
				t.Errorf("Login dropped another registry's entry: %v", auths)
			}
			data, _ := os.ReadFile(path)
			if !strings.Contains(string(data), `"psFormat"`) {
				t.Errorf("Login dropped a field it does not manage:\n%s", data)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("config.json mode = %v, %v; want 0600", fi.Mode().Perm(), err)
			}

			// A Puller with no Keychain now finds the stored credentials.
			ref := mustRef(t, host+"/after/login:1")
			img := randomImage(t)
			opts := testOptions()
			opts.Keychain = nil
			if err := Push(ctx, ref, img, opts); err != nil {
				t.Fatalf("Push after login = %v", err)
			}
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := p.Image(ctx, ref); err != nil || got.Descriptor.Digest != digestOf(t, img) {
				t.Fatalf("Image after login = %v", err)
			}

			if err := Logout(host); err != nil {
				t.Fatalf("Logout = %v", err)
			}
			if _, ok := readAuths(t, path)[host]; ok {
				t.Errorf("Logout left the entry for %s", host)
			}
			if err := Logout(host); !errors.Is(err, ErrNotLoggedIn) {
				t.Errorf("second Logout = %v, want ErrNotLoggedIn", err)
			}
		})
	}
}

func TestLoginDockerHubKey(t *testing.T) {
	// Docker Hub credentials live under Docker's historical key, whatever alias was given.
	path := dockerConfigDir(t, "")
	if err := storeCredentials(normalizeHost("index.docker.io"), "u", "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := readAuths(t, path)[hubAuthKey]; !ok {
		t.Errorf("auths = %v, want key %s", readAuths(t, path), hubAuthKey)
	}
	for _, alias := range []string{"", "docker.io"} {
		if err := Logout(alias); err != nil && !errors.Is(err, ErrNotLoggedIn) {
			t.Fatalf("Logout(%q) = %v", alias, err)
		}
	}
	if len(readAuths(t, path)) != 0 {
		t.Errorf("auths after Logout = %v, want none", readAuths(t, path))
	}
}

func TestLoginCredentialHelper(t *testing.T) {
	// A fake docker-credential-fake on PATH records what it is asked to store or erase.
	bin := t.TempDir()
	record := filepath.Join(bin, "record")
	script := "#!/bin/sh\necho \"$1\" >> " + record + "\ncat >> " + record + "\necho >> " + record + "\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	path := dockerConfigDir(t, `{"credsStore":"fake"}`)
	host := serve(t, basicAuth("alice", "s3cret"))

	if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err != nil {
		t.Fatalf("Login = %v", err)
	}
	if err := Logout(host); err != nil {
		t.Fatalf("Logout = %v", err)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"store", `"Secret":"s3cret"`, `"ServerURL":"` + host + `"`, "erase\n" + host} {
		if !strings.Contains(string(got), want) {
			t.Errorf("helper calls %q lack %q", got, want)
		}
	}
	if auths := readAuths(t, path); len(auths) != 0 {
		t.Errorf("config.json auths = %v, want none with a credsStore", auths)
	}
}

// TestLoginThroughSymlinkedConfig: as docker, a config.json that is a symlink (dotfiles kept
// in a repository) is written through, not replaced by a file of its own.
func TestLoginThroughSymlinkedConfig(t *testing.T) {
	real := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(real, []byte(`{"psFormat":"table"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := dockerConfigDir(t, "")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	host := serve(t, basicAuth("alice", "s3cret"))
	if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err != nil {
		t.Fatalf("Login = %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("config.json after Login: %v, %v; want the symlink kept", fi.Mode(), err)
	}
	if _, ok := readAuths(t, real)[host]; !ok {
		t.Errorf("the symlink's target has no credentials for %s", host)
	}
	if err := Logout(host); err != nil {
		t.Fatalf("Logout = %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("config.json after Logout: %v, %v; want the symlink kept", fi.Mode(), err)
	}
}

// TestConfigFIFODoesNotHang: a config.json that is a named pipe nobody writes to is an error
// for login and logout, not a read that blocks forever. (A pull warns and goes on:
// TestBrokenDockerConfig.)
func TestConfigFIFODoesNotHang(t *testing.T) {
	path := dockerConfigDir(t, "")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	host := serve(t, nil)
	calls := map[string]func() error{
		"login":  func() error { return Login(context.Background(), host, "alice", "s3cret", testOptions()) },
		"logout": func() error { return Logout(host) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- call() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "named pipe") {
					t.Errorf("%s with a FIFO config.json = %v, want an error naming the pipe", name, err)
				}
			case <-time.After(10 * time.Second):
				// Let the blocked read go, so the test ends.
				if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
					f.Close()
				}
				<-done
				t.Errorf("%s with a FIFO config.json hung", name)
			}
		})
	}
}

// TestLoginServerURL: as docker, a login to a URL with a path logs in to its host; a URL with
// credentials in it is refused without the password in the message.
func TestLoginServerURL(t *testing.T) {
	path := dockerConfigDir(t, "")
	host := serve(t, basicAuth("alice", "s3cret"))
	ctx := context.Background()
	if err := Login(ctx, "https://"+host+"/v2/", "alice", "s3cret", testOptions()); err != nil {
		t.Fatalf("Login(URL with /v2/) = %v", err)
	}
	if auths := readAuths(t, path); len(auths) != 1 || auths[host] == nil {
		t.Errorf("auths = %v, want one entry keyed %s", auths, host)
	}
	if err := Logout(host + "/v2"); err != nil {
		t.Errorf("Logout(host/v2) = %v", err)
	}
	for _, server := range []string{"https://alice:hunter2@" + host, "alice:hunter2@" + host + "/v2/"} {
		err := Login(ctx, server, "alice", "s3cret", testOptions())
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Login(%q) = %v, want an error without the password", server, err)
		}
		if err := Logout(server); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Logout(%q) = %v, want an error without the password", server, err)
		}
	}
	for in, want := range map[string]string{"": "docker.io", "https://index.docker.io/v1/": "docker.io", "docker.io": "docker.io", "http://" + host + "/x/y": host} {
		if got, err := LoginHost(in); err != nil || got != want {
			t.Errorf("LoginHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestLoginOverNullConfig: a config.json that says null is an empty one, as for docker; login
// writing into it panicked on the nil map it decoded to.
func TestLoginOverNullConfig(t *testing.T) {
	path := dockerConfigDir(t, "null")
	host := serve(t, basicAuth("alice", "s3cret"))
	if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err != nil {
		t.Fatalf("Login over a null config.json = %v", err)
	}
	if a := readAuths(t, path)[host]; a == nil {
		t.Errorf("config.json after login has no entry for %s", host)
	}
}
