package main

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// TestPushQuiet: push -q prints the reference pushed and nothing else, as docker push -q and
// strata pull -q do; it printed nothing, so a script reading the pushed name got none.
func TestPushQuiet(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", host+"/t/bb:1"); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "push", "-q", host+"/t/bb:1")
	if err != nil || out != host+"/t/bb:1\n" {
		t.Fatalf("push -q = %q, %v; want the reference alone", out, err)
	}
}
