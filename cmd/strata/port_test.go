package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestPort: port lists nothing for a container, which strata never publishes a port of, and
// a PRIVATE_PORT is "No public port" in docker's words (docker/cli container/port.go), after
// the container is looked up and the port checked as docker's CLI checks it.
func TestPort(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := runner.Config{Name: "web", Image: "alpine", Spec: runner.Spec{Args: []string{"true"}},
		ExposedPorts: map[string]struct{}{"80/tcp": {}}}
	if _, err := store.Create(cfg); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{args: []string{"port", "web"}},
		{args: []string{"container", "port", "web"}},
		{args: []string{"port", "web", "80"}, err: "No public port '80' published for web"},
		{args: []string{"port", "web", "80/tcp"}, err: "No public port '80/tcp' published for web"},
		{args: []string{"container", "port", "/web", "53/udp"}, err: "No public port '53/udp' published for /web"},
		{args: []string{"port", "web", "http"}, err: "invalid port (http)"},
		{args: []string{"port", "web", "65536/tcp"}, err: "invalid port (65536)"},
		{args: []string{"port", "nosuch"}, err: "nosuch: no such container"},
		{args: []string{"port", "nosuch", "http"}, err: "nosuch: no such container"}, // looked up first, as docker
		{args: []string{"port"}, err: "accepts between 1 and 2 arg(s), received 0"},
		{args: []string{"port", "web", "80", "81"}, err: "accepts between 1 and 2 arg(s), received 3"},
	} {
		stdout, _, err := runCLI(t, root, tc.args...)
		if stdout != "" {
			t.Errorf("%s printed %q, want nothing", strings.Join(tc.args, " "), stdout)
		}
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s = %v, want %q", strings.Join(tc.args, " "), err, tc.err)
		}
	}
}
