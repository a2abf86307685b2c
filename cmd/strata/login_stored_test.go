package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// TestLoginWithStoredCredentials: `login SERVER` without a user name or password tries the
// credentials stored for the registry first, as docker does, so a script's login after an
// earlier one (or with a credential helper that holds them) succeeds: it failed "username and
// password are required", stdin not being a terminal. Stored credentials that the registry
// refuses are said to be so, and then the usual error; a config.json that cannot be read
// fails the login, as it fails any other.
func TestLoginWithStoredCredentials(t *testing.T) {
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	auth := func(up string) string { return base64.StdEncoding.EncodeToString([]byte(up)) }
	for _, tt := range []struct {
		name, config      string
		wantOut, wantErr  string
		wantSaid, notSaid string
	}{
		{"none stored", "", "", "username and password are required", "", "Authenticating"},
		{"stored", `{"auths":{"` + host + `":{"auth":"` + auth("alice:s3cret") + `"}}}`, "Login Succeeded", "",
			"Authenticating with existing credentials... [Username: alice]", ""},
		{"stored but refused", `{"auths":{"` + host + `":{"auth":"` + auth("alice:old") + `"}}}`, "", "username and password are required",
			"Stored credentials invalid or expired", ""},
		{"config not JSON", `{"auths":`, "", "parsing", "", "Authenticating"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DOCKER_CONFIG", dir)
			if tt.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tt.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var out, errOut bytes.Buffer
			err := runLogin(context.Background(), &globals{root: t.TempDir()}, loginOptions{}, host, strings.NewReader(""), &out, &errOut)
			t.Logf("login = %v; stdout %q; stderr %q", err, out.String(), errOut.String())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("login = %v, want error %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout %q, want %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errOut.String(), tt.wantSaid) || tt.notSaid != "" && strings.Contains(errOut.String(), tt.notSaid) {
				t.Errorf("stderr %q, want %q and not %q", errOut.String(), tt.wantSaid, tt.notSaid)
			}
			if after, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(after) != tt.config {
				t.Errorf("config.json changed to %q", after)
			}
		})
	}
}
