package registry

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginHelperLeavesAuthsEntry: a login whose credentials go to a credential helper leaves
// an empty auths entry for the registry in config.json, as docker's does, replacing any
// plaintext credentials left there: docker logout looks for the registry in auths only, and
// after a strata login it said "Not logged in" and left the credentials in the helper. Other
// entries and fields are kept; strata's logout removes the entry.
func TestLoginHelperLeavesAuthsEntry(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	host := serve(t, basicAuth("alice", "s3cret"))
	path := dockerConfigDir(t, `{"credsStore":"fake","auths":{"`+host+`":{"auth":"YWxpY2U6b2xk"},"other.example":{"auth":"eDp5"}}}`)
	if err := Login(context.Background(), host, "alice", "s3cret", testOptions()); err != nil {
		t.Fatalf("Login = %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		CredsStore string                                `json:"credsStore"`
		Auths      map[string]map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	entry, ok := cfg.Auths[host]
	if !ok || len(entry) != 0 || cfg.CredsStore != "fake" || len(cfg.Auths["other.example"]) != 1 {
		t.Errorf("config.json after a login through a helper = %s; want an empty auths entry for %s, the rest kept", data, host)
	}
	if strings.Contains(string(data), "YWxpY2U6b2xk") {
		t.Errorf("config.json keeps the old plaintext credentials: %s", data)
	}
	if err := Logout(host); err != nil {
		t.Fatalf("Logout = %v", err)
	}
	if auths := readAuths(t, path); len(auths) != 1 {
		t.Errorf("config.json auths after logout = %v, want other.example alone", auths)
	}
}

// TestLogoutHelperEraseFails: a logout whose credential helper fails to erase the credentials
// (for another reason than having none) of a registry config.json says it is logged in to
// warns, as docker does, "could not erase": it said "Removing login credentials" alone, and
// the credentials stayed in the helper. A helper that has none says nothing.
func TestLogoutHelperEraseFails(t *testing.T) {
	fakeHelper(t, "locked", `cat >/dev/null; echo 'the keychain is locked' >&2; exit 1`)
	fakeHelper(t, "none", `cat >/dev/null; echo 'credentials not found in native keychain'; exit 1`)
	for _, tt := range []struct{ helper, want string }{
		{"locked", "could not erase the credentials of reg.example from its credential helper: docker-credential-locked erase: exit status 1: the keychain is locked"},
		{"none", ""},
	} {
		dockerConfigDir(t, `{"credsStore":"`+tt.helper+`","auths":{"reg.example":{}}}`)
		var warned []string
		err := LogoutWarn(context.Background(), "reg.example", func(w string) { warned = append(warned, w) })
		if err != nil {
			t.Fatalf("%s: Logout = %v", tt.helper, err)
		}
		if got := strings.Join(warned, "|"); got != tt.want {
			t.Errorf("%s: warned %q, want %q", tt.helper, got, tt.want)
		}
	}
}
