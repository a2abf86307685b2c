package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// plainLine fails t when err is not one short line free of control characters: what a user,
// a file or a registry gave must come back escaped and cut.
func plainLine(t *testing.T, what string, in any, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) || len(msg) > 4096 {
		t.Errorf("%s(%.100q) error is not one plain short line: %.300q (%d bytes)", what, in, msg, len(msg))
	}
}

// FuzzRegistryValues feeds hostile values to what reads a registry's name or a registries
// config: --platform, mirrors, login and logout servers, a Retry-After header, and the
// registries config file and docker's config.json: a value or one plain line, never a panic.
func FuzzRegistryValues(f *testing.F) {
	for _, s := range []string{
		"linux/amd64", "linux/arm/v7", "windows/amd64:10.0.17763", "https://mirror.example.com", "http://u:p@h/",
		"registry.example.com/v2/", "https://", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "-1",
		`{"registries":{"docker.io":{"mirrors":["https://m.example.com"],"insecure":true}}}`,
		`{"registries":{"\u001b[2J":{"mirrors":["ftp://x"]}}}`,
		`{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}},"credsStore":"x","credHelpers":{"h":"y"}}`,
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "config.json")
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParsePlatform(s)
		plainLine(t, "ParsePlatform", s, err)
		_, err = parseMirror(s)
		plainLine(t, "parseMirror", s, err)
		_, err = LoginHost(s)
		plainLine(t, "LoginHost", s, err)
		_, err = LogoutTarget(s)
		plainLine(t, "LogoutTarget", s, err)
		if d, ok := retryAfter(s, now); ok && d < 0 {
			t.Errorf("retryAfter(%q) = %v", s, d)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = LoadConfig(path)
		plainLine(t, "LoadConfig", s, err)
		_, err = loadCredentialsFile(path)
		plainLine(t, "loadCredentialsFile", s, err)
	})
}
