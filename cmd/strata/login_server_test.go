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
