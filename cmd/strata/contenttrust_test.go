package main

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestDisableContentTrust: docker's --disable-content-trust, which scripts pass to run,
// create, pull and push (image pull and image push too), is accepted as docker's default,
// true: the command goes on to its own work (here, failing on an image the empty store lacks).
// =false asks for signature checks strata cannot make, and is refused as a flag, exit 125.
func TestDisableContentTrust(t *testing.T) {
	exec := func(args ...string) error {
		cmd := newRootCmd(&globals{})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append([]string{"--root", t.TempDir()}, args...))
		return cmd.Execute()
	}
	for _, c := range [][]string{
		{"run", "nosuch"}, {"create", "nosuch"}, {"container", "run", "nosuch"},
		{"pull", "--offline", "nosuch"}, {"image", "pull", "--offline", "nosuch"},
		{"push", "localhost:1/nosuch"}, {"image", "push", "localhost:1/nosuch"},
	} {
		for _, flag := range []string{"--disable-content-trust", "--disable-content-trust=true"} {
			args := withFlag(c, flag)
			err := exec(args...)
			if err == nil || strings.Contains(err.Error(), "disable-content-trust") || !strings.Contains(err.Error(), "nosuch") {
				t.Errorf("strata %v = %v, want the command's own error about nosuch", args, err)
			}
		}
		args := withFlag(c, "--disable-content-trust=false")
		err := exec(args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 125 || !strings.Contains(err.Error(), "Content Trust") || strings.Contains(err.Error(), "\n") {
			t.Errorf("strata %v = %v, want exit 125 saying strata has no content trust", args, err)
		}
	}
}

// withFlag puts flag after the command's words in args (one, or two for a group's).
func withFlag(args []string, flag string) []string {
	n := 1
	if args[0] == "container" || args[0] == "image" {
		n = 2
	}
	return append(append(append([]string{}, args[:n]...), flag), args[n:]...)
}
