package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-run/strata/runner"
)

// TestDetachKeysAfterContainer: exec, attach and start -ai with a bad --detach-keys of a
// container that does not exist say that it does not, as docker's do: its CLI inspects the
// container first, and its daemon checks the keys at the exec's creation or the attach. strata
// refused the keys before it looked the container up.
func TestDetachKeysAfterContainer(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"exec", "-it", "--detach-keys", "ctrl-", "nosuch", "true"},
		{"exec", "--detach-keys", "ctrl-", "nosuch", "true"},
		{"attach", "--detach-keys", "ctrl-", "nosuch"},
		{"start", "-ai", "--detach-keys", "ctrl-", "nosuch"},
		{"start", "-i", "--detach-keys", "ctrl-", "nosuch"},
		{"start", "-a", "--detach-keys", "ctrl-", "nosuch"},
	} {
		_, _, err := runCLI(t, root, args...)
		if err == nil || !strings.Contains(err.Error(), "no such container") || strings.Contains(err.Error(), "detach-keys") {
			t.Errorf("%s = %v, want no such container", strings.Join(args, " "), err)
		}
	}
}

// TestDetachKeysAfterState: attach and exec with a bad --detach-keys of a container that is
// not running say so, with the exit codes they have for it, as docker's do: its attach CLI
// refuses a stopped container before anything else, and its daemon refuses an exec into a
// container that is not running before it reads the keys. strata refused the keys.
func TestDetachKeysAfterState(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []runner.Config{
		{Name: "plain", Image: "alpine", Spec: runner.Spec{Args: []string{"true"}}},
		{Name: "tty", Image: "alpine", Spec: runner.Spec{Args: []string{"sh"}, Terminal: true, Stdin: true}},
	} {
		if _, err := store.Create(cfg); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"attach", "--detach-keys", "ctrl-", "plain"}, 1, "you cannot attach to a stopped container, start it first"},
		{[]string{"attach", "--detach-keys", "ctrl-", "tty"}, 1, "you cannot attach to a stopped container, start it first"},
		{[]string{"exec", "--detach-keys", "ctrl-", "plain", "true"}, 1, "container is not running"},
		{[]string{"exec", "-d", "--detach-keys", "ctrl-", "tty", "true"}, 1, "container is not running"},
	} {
		_, _, err := runCLI(t, root, tt.args...)
		code := 0
		if err != nil {
			code = 1
		}
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if err == nil || code != tt.code || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "detach-keys") {
			t.Errorf("%s = exit %d, %v; want %d, %s", strings.Join(tt.args, " "), code, err, tt.code, tt.want)
		}
	}
}

// TestStartAttachDetachKeys: start -a refuses a bad --detach-keys as start -i does, with its
// status 125 and before the container starts: docker's daemon checks the keys at the attach,
// stdin or not. strata took any keys without -i and started the container.
func TestStartAttachDetachKeys(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(runner.Config{Name: "plain", Image: "alpine", Spec: runner.Spec{Args: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	for _, keys := range []string{"ctrl-", "a,,b", "ctrl-\u00e4"} {
		_, _, err := runCLI(t, root, "start", "-a", "--detach-keys", keys, "plain")
		var ee *exitError
		if err == nil || !errors.As(err, &ee) || ee.code != 125 || !strings.Contains(err.Error(), "invalid --detach-keys") {
			t.Errorf("start -a --detach-keys %q = %v, want status 125 and invalid --detach-keys", keys, err)
		}
	}
	c, err := store.Get("plain")
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Status != runner.StatusCreated {
		t.Errorf("plain after the refused starts is %s (%s), want it created, never started", c.State.Status, c.State.Error)
	}
}
