package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
