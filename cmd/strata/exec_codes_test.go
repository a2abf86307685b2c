package main

import (
	"errors"
	"strings"
	"testing"
)

// TestExecMissingContainerCode: exec of a container that does not exist exits 1, as docker's
// CLI does with its daemon's "No such container" (cli/command/container/exec.go returns the
// inspect's error as it is); -it too, where the container is looked up before the terminal.
// strata exited 125, its code for its own failures.
func TestExecMissingContainerCode(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"exec", "nosuch", "true"},
		{"exec", "-it", "nosuch", "sh"},
		{"exec", "-d", "nosuch", "true"},
	} {
		_, _, err := runCLI(t, root, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "no such container") {
			t.Errorf("%s = %v, want exit 1 and no such container", strings.Join(args, " "), err)
		}
	}
}
