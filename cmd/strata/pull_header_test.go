package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPullByDigestHeader: a pull by digest starts as docker's does, "DIGEST: Pulling from
// REPOSITORY", as a pull by tag starts "TAG: Pulling from REPOSITORY"; NAME:TAG@DIGEST is
// pulled by the digest, so it names the digest too.
func TestPullByDigestHeader(t *testing.T) {
	host := fixtureRegistry(t)
	root := t.TempDir()
	name := host + "/library/alpine"
	for _, tt := range []struct{ arg, want string }{
		{name, "latest: Pulling from library/alpine\n"},
		{name + "@" + alpineIndex, alpineIndex + ": Pulling from library/alpine\n"},
		{name + ":3.20.3@" + alpineIndex, alpineIndex + ": Pulling from library/alpine\n"},
	} {
		out, err := strata(t, root, nil, "pull", "--no-unpack", tt.arg)
		if err != nil {
			t.Fatalf("pull %s: %v", tt.arg, err)
		}
		if !strings.HasPrefix(out, tt.want) {
			t.Errorf("pull %s printed\n%s\nwant it to start %q", tt.arg, out, tt.want)
		}
	}
}

// TestPullHeaderAfterResolve: "TAG: Pulling from REPOSITORY" is printed once the manifest is
// resolved, as docker's puller prints it: a tag the registry does not have, or a pull it
// refuses, prints only the error, not a header announcing a pull that never started.
func TestPullHeaderAfterResolve(t *testing.T) {
	host := fixtureRegistry(t)
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
	}))
	t.Cleanup(denied.Close)
	root := t.TempDir()
	for _, arg := range []string{
		host + "/library/alpine:nosuch",
		host + "/library/nosuch:latest",
		strings.TrimPrefix(denied.URL, "http://") + "/library/alpine:latest",
	} {
		out, err := strata(t, root, nil, "pull", "--no-unpack", arg)
		if err == nil {
			t.Fatalf("pull %s: no error", arg)
		}
		if out != "" {
			t.Errorf("pull %s failed (%v) and printed %q, want nothing on stdout", arg, err, out)
		}
	}
	// The header still starts a pull that works, and one that finds the image up to date.
	for i := 0; i < 2; i++ {
		out, err := strata(t, root, nil, "pull", "--no-unpack", host+"/library/alpine:3.20.3")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out, "3.20.3: Pulling from library/alpine\n") {
			t.Errorf("pull %d printed %q, want it to start with the header", i+1, out)
		}
	}
}
