package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLogoutNamespaceAfterLogin: `login HOST/NS` stores the credentials as HOST's, as docker
// login does, and `logout HOST/NS` removes a namespace's keys alone, as podman logout does; so
// a script's logout of what it logged in to found nothing of HOST/NS and said only "Not logged
// in", the credentials left on disk. It now warns, on stderr, that HOST's are kept and how to
// remove them; stdout and the exit status are as before. With no credentials of HOST, no
// warning.
func TestLogoutNamespaceAfterLogin(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	logout := func() (string, string, error) {
		cmd := newRootCmd(&globals{})
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs([]string{"--root", t.TempDir(), "logout", host + "/team"})
		err := cmd.ExecuteContext(context.Background())
		return out.String(), errOut.String(), err
	}
	out, errOut, err := logout()
	if err != nil || out != "Not logged in to "+host+"/team\n" || errOut != "" {
		t.Errorf("logout %s/team with no credentials = %q, %q, %v; want Not logged in, no warning", host, out, errOut, err)
	}
	err = runLogin(context.Background(), &globals{}, loginOptions{user: "u", passwordStdin: true}, host+"/team",
		strings.NewReader("pw\n"), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err = logout()
	if err != nil || out != "Not logged in to "+host+"/team\n" {
		t.Errorf("logout %s/team after login %s/team = %q, %v; want Not logged in", host, host, out, err)
	}
	if !strings.Contains(errOut, "warning: the credentials of "+host+" itself are kept") || !strings.Contains(errOut, "'strata logout "+host+"'") ||
		strings.Count(errOut, "\n") != 1 {
		t.Errorf("logout %s/team after login %s/team warned %q, want one line saying %s's credentials are kept", host, host, errOut, host)
	}
}
