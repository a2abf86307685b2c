package main

import (
	"strings"
	"testing"
)

// TestDetachKeysAfterContainer: exec and attach with a bad --detach-keys of a container that
// does not exist say that it does not, as docker's do: its CLI inspects the container first,
// and its daemon checks the keys at the exec's creation or the attach. strata refused the
// keys before it looked the container up.
func TestDetachKeysAfterContainer(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"exec", "-it", "--detach-keys", "ctrl-", "nosuch", "true"},
		{"exec", "--detach-keys", "ctrl-", "nosuch", "true"},
		{"attach", "--detach-keys", "ctrl-", "nosuch"},
	} {
		_, _, err := runCLI(t, root, args...)
		if err == nil || !strings.Contains(err.Error(), "no such container") || strings.Contains(err.Error(), "detach-keys") {
			t.Errorf("%s = %v, want no such container", strings.Join(args, " "), err)
		}
	}
}
