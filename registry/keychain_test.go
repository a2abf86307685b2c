package registry

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBrokenDockerConfig: a config.json that cannot be used does not stop a pull or a push:
// one warning, naming the file, then on without credentials, as Docker does. Login and logout
// still fail on it, and leave it as it was: they would overwrite what they could not read.
func TestBrokenDockerConfig(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want string // in the warning
		// loginReads: login's own reading of the file, JSON kept as it is, has no quarrel
		// with it: the entry it cannot decode is kept, not lost.
		loginReads bool
	}{
		{"not json", func(t *testing.T, path string) { write(t, path, "{not json") }, "parsing", false},
		{"wrong types", func(t *testing.T, path string) { write(t, path, `{"auths":5}`) }, "parsing", false},
		{"bad base64", func(t *testing.T, path string) {
			write(t, path, `{"auths":{"example.com":{"auth":"%%%"}}}`)
		}, "parsing", true},
		{"named pipe", func(t *testing.T, path string) {
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "named pipe", false},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "directory", false},
		{"huge", func(t *testing.T, path string) {
			write(t, path, "{}")
			if err := os.Truncate(path, 1<<40); err != nil { // sparse: nothing is written
				t.Fatal(err)
			}
		}, "over the 4 MiB", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", t.TempDir())
			path := dockerConfigDir(t, "")
			tt.make(t, path)
			before, _ := os.Lstat(path)
			host := serve(t, nil)
			var mu sync.Mutex
			var warnings []string
			opts := testOptions()
			opts.Keychain = nil
			opts.Warn = func(w string) {
				mu.Lock()
				defer mu.Unlock()
				warnings = append(warnings, w)
			}
			// Two repositories: two credential lookups, one warning.
			for _, repo := range []string{"/a/app:1", "/b/app:1"} {
				if err := Push(context.Background(), mustRef(t, host+repo), randomImage(t), opts); err != nil {
					t.Fatalf("Push with a broken config.json = %v", err)
				}
			}
			p, err := NewPuller(opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, repo := range []string{"/a/app:1", "/b/app:1"} {
				if _, err := p.Image(context.Background(), mustRef(t, host+repo)); err != nil {
					t.Fatalf("Image with a broken config.json = %v", err)
				}
			}
			mu.Lock()
			got := warnings
			mu.Unlock()
			// Push makes a Puller of its own per call: once each, and once for the pull.
			if len(got) != 3 {
				t.Fatalf("warnings = %q, want one per command", got)
			}
			if w := got[0]; !strings.Contains(w, path) || !strings.Contains(w, tt.want) ||
				!strings.Contains(w, "without credentials") || strings.Contains(w, "\n") {
				t.Errorf("warning = %q, want one line naming %s and %q", w, path, tt.want)
			}

			if tt.loginReads {
				if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err != nil {
					t.Fatalf("Login = %v", err)
				}
				if a := readAuths(t, path)["example.com"]; a["auth"] != "%%%" {
					t.Errorf("after login, the entry login cannot decode is %v, want it kept", a)
				}
				return
			}
			if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err == nil {
				t.Error("Login over a broken config.json succeeded")
			}
			if err := Logout(host); err == nil {
				t.Error("Logout over a broken config.json succeeded")
			}
			after, err := os.Lstat(path)
			if err != nil || before == nil || !os.SameFile(before, after) || after.Size() != before.Size() || after.ModTime() != before.ModTime() {
				t.Errorf("config.json after login and logout = %v, %v, want it untouched", after, err)
			}
		})
	}
}

// TestDockerConfigCredentials: the credentials of a config.json that parses are used, and a
// credential helper that fails is an error, not a silent anonymous pull.
func TestDockerConfigCredentials(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	host := serve(t, basicAuth("alice", "s3cret"))
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	dockerConfigDir(t, `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)
	opts := testOptions()
	opts.Keychain = nil
	opts.Warn = func(w string) { t.Errorf("warning %q for a good config.json", w) }
	ref := mustRef(t, host+"/private/app:1")
	if err := Push(context.Background(), ref, randomImage(t), opts); err != nil {
		t.Fatalf("Push with credentials in config.json = %v", err)
	}

	dockerConfigDir(t, `{"credsStore":"strata-test-missing-helper"}`)
	opts.Warn = nil
	p, err := NewPuller(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Image(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "strata-test-missing-helper") {
		t.Errorf("Image with a credential helper that is missing = %v, want its error", err)
	}
}

// TestPodmanAuthFile: without a Docker config, Podman's auth.json is read, as by
// go-containerregistry's keychain; a broken one is warned about too.
func TestPodmanAuthFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	host := serve(t, basicAuth("alice", "s3cret"))
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	authFile := filepath.Join(t.TempDir(), "auth.json")
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	write(t, authFile, `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)
	opts := testOptions()
	opts.Keychain = nil
	if err := Push(context.Background(), mustRef(t, host+"/private/app:1"), randomImage(t), opts); err != nil {
		t.Fatalf("Push with credentials in REGISTRY_AUTH_FILE = %v", err)
	}
	write(t, authFile, `{`)
	var warned string
	opts.Warn = func(w string) { warned = w }
	if err := Push(context.Background(), mustRef(t, host+"/private/app:1"), randomImage(t), opts); err == nil {
		t.Error("Push without credentials to a registry that wants them succeeded")
	}
	if !strings.Contains(warned, authFile) {
		t.Errorf("warning = %q, want it to name %s", warned, authFile)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
