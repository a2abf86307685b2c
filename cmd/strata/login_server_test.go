package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLoginServerRefusedFirst: a server that is no host name (a terminal escape, a newline,
// 3000 bytes) is refused at once, in one short line with it quoted, before the password is
// read; it came back raw, and whole, in "login to …" messages.
func TestLoginServerRefusedFirst(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, server := range []string{"\x1b[2Jreg.example", "reg\n.example", strings.Repeat("a", 3000), "https://"} {
		in := strings.NewReader("s3cret\n")
		err := runLogin(context.Background(), &globals{}, loginOptions{user: "u", passwordStdin: true},
			server, in, io.Discard, io.Discard)
		if err == nil {
			t.Fatalf("login %s succeeded", quoteValue(server))
		}
		if strings.ContainsAny(err.Error(), "\x1b\n") || len(err.Error()) > 300 {
			t.Errorf("login %s = %s, want a short one-line error", quoteValue(server), quoteValue(err.Error()))
		}
		if in.Len() == 0 {
			t.Errorf("login %s read the password before refusing the server", quoteValue(server))
		}
	}
}

// TestLoginTrimsUser: as docker, spaces around --username are no part of the name: the
// registry was sent " alice" and refused it.
func TestLoginTrimsUser(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}`, http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	err := runLogin(context.Background(), &globals{}, loginOptions{user: " alice\t", passwordStdin: true},
		strings.TrimPrefix(srv.URL, "http://"), strings.NewReader("s3cret\n"), io.Discard, io.Discard)
	if err != nil {
		t.Errorf("login -u ' alice\\t' = %v", err)
	}
}

// TestLoginServerNotARegistry: a server that no image reference could name (a port that is
// no number, two ports, a host in brackets that is no IPv6 address) is refused as an invalid
// registry before the password is read or the network asked: the ping built a URL of it and said
// "registry host:1:2 sent strata to "https://host:1:2/v2/", which is not a URL", a redirect
// that never was. Hosts pulls can name (IPv6, a port, upper case, localhost) are not refused.
func TestLoginServerNotARegistry(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, server := range []string{"host:1:2", "host:port", "https://host:1:2/v2/", "[::1]x:1", "[x]:1"} {
		in := strings.NewReader("s3cret\n")
		err := runLogin(context.Background(), &globals{}, loginOptions{user: "u", passwordStdin: true},
			server, in, io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "login: invalid registry ") {
			t.Errorf("login %s = %v, want an invalid registry", server, err)
		}
		if in.Len() == 0 {
			t.Errorf("login %s read the password before refusing the server", server)
		}
	}
	for _, server := range []string{"[::1]:1", "127.0.0.1:1", "LOCALHOST:1", "localhost:1/ns"} {
		err := runLogin(context.Background(), &globals{}, loginOptions{user: "u", passwordStdin: true},
			server, strings.NewReader("s3cret\n"), io.Discard, io.Discard)
		if err == nil || strings.Contains(err.Error(), "invalid registry") {
			t.Errorf("login %s = %v, want it tried (nothing listens on port 1)", server, err)
		}
	}
}
