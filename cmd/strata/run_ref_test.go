package main

import (
	"errors"
	"strings"
	"testing"
)

// TestRunRefusesMalformedReference: run and create refuse a name that is no reference with
// docker's "invalid reference format" (exit 125), before they look for it or make anything;
// an image ID prefix is still looked for.
func TestRunRefusesMalformedReference(t *testing.T) {
	root := t.TempDir()
	for _, cmd := range []string{"run", "create"} {
		for _, ref := range []string{"ALPINE", "alpine:", "a//b", "alpine@sha256:short"} {
			_, err := strata(t, root, nil, cmd, ref, "true")
			if err == nil || !strings.HasPrefix(err.Error(), "invalid reference format") || exitCodeOf(err) != 125 {
				t.Errorf("%s %s = %v (exit %d); want invalid reference format, 125", cmd, ref, err, exitCodeOf(err))
			}
		}
		_, err := strata(t, root, nil, cmd, "sha256:04574bec7a1d", "true")
		if err == nil || !strings.Contains(err.Error(), "is not in the store") {
			t.Errorf("%s sha256:04574bec7a1d = %v; want it looked for (not in the store)", cmd, err)
		}
	}
}

// exitCodeOf is the code strata would exit with for err (1 for a plain error).
func exitCodeOf(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}
