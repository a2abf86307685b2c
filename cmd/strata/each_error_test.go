package main

import (
	"strings"
	"testing"
)

// TestEachErrorLines: a command acting on several containers prints an error line for each
// one that failed, as docker's do, and exits 1 after acting on the others; the failures were
// joined into one line ("strata: a: no such container; b: no such container").
func TestEachErrorLines(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"stop", "nosuch1", "nosuch2", "nosuch3"},
		{"kill", "nosuch1", "nosuch2", "nosuch3"},
		{"start", "nosuch1", "nosuch2", "nosuch3"},
		{"restart", "nosuch1", "nosuch2", "nosuch3"},
		{"wait", "nosuch1", "nosuch2", "nosuch3"},
		{"pause", "nosuch1", "nosuch2", "nosuch3"},
		{"unpause", "nosuch1", "nosuch2", "nosuch3"},
		{"rm", "nosuch1", "nosuch2", "nosuch3"},
		{"inspect", "--type", "container", "nosuch1", "nosuch2", "nosuch3"},
	} {
		stdout, stderr, err := runCLI(t, root, args...)
		if err == nil {
			t.Errorf("%s = no error, want a failure", strings.Join(args, " "))
			continue
		}
		if strings.Contains(err.Error(), ";") || !strings.Contains(err.Error(), "nosuch3") {
			t.Errorf("%s returned %q, want the last failure alone", strings.Join(args, " "), err)
		}
		want := "strata: nosuch1: no such container\nstrata: nosuch2: no such container\n"
		if stderr != want {
			t.Errorf("%s printed %q on stderr, want %q", strings.Join(args, " "), stderr, want)
		}
		if args[0] != "inspect" && stdout != "" {
			t.Errorf("%s printed %q on stdout, want nothing", strings.Join(args, " "), stdout)
		}
	}
	if code := execute([]string{"--root", root, "stop", "nosuch1", "nosuch2"}); code != 1 {
		t.Errorf("stop nosuch1 nosuch2 = exit %d, want 1", code)
	}
}
