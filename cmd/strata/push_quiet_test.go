package main

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// busyboxToPush makes a store with the busybox fixture tagged HOST/name for a registry of
// go-containerregistry's that the test runs, and returns the store's root and HOST.
func busyboxToPush(t *testing.T, name string) (root, host string) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	root = t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	if _, err := strata(t, root, nil, "tag", "busybox:1.38.0-musl", host+"/"+name); err != nil {
		t.Fatal(err)
	}
	return root, host
}

// TestPushQuiet: push -q prints the reference pushed and nothing else, as docker push -q and
// strata pull -q do; it printed nothing, so a script reading the pushed name got none.
func TestPushQuiet(t *testing.T) {
	root, host := busyboxToPush(t, "t/bb:1")
	out, err := strata(t, root, nil, "push", "-q", host+"/t/bb:1")
	if err != nil || out != host+"/t/bb:1\n" {
		t.Fatalf("push -q = %q, %v; want the reference alone", out, err)
	}
}
