package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginPlainFileWarning: a login whose credentials go into config.json itself (no
// credential helper for the registry) says so on stderr in docker's words, naming the file;
// one whose credentials a helper keeps says nothing of it. strata stored them without a word.
func TestLoginPlainFileWarning(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	login := func() (string, string) {
		t.Helper()
		var out, errOut strings.Builder
		err := runLogin(context.Background(), &globals{}, loginOptions{user: "u", passwordStdin: true}, host, strings.NewReader("pw\n"), &out, &errOut)
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String()
	}

	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	out, errOut := login()
	want := "\nWARNING! Your credentials are stored unencrypted in '" + filepath.Join(dir, "config.json") + "'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n"
	if out != "Login Succeeded\n" || errOut != want {
		t.Errorf("login to %s = %q, stderr %q; want Login Succeeded and docker's warning %q", host, out, errOut, want)
	}

	// A helper that keeps the credentials: no warning.
	bin := t.TempDir()
	script := "#!/bin/sh\ncat >/dev/null\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-strata-test"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir = t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"`+host+`":"strata-test"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut := login(); out != "Login Succeeded\n" || errOut != "" {
		t.Errorf("login with a credential helper = %q, stderr %q; want no warning", out, errOut)
	}
}
