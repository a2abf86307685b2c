package main

import (
	"strings"
	"testing"
)

func TestAttachStreams(t *testing.T) {
	var a attachStreams
	for _, v := range []string{"STDOUT", "stdin", "stdout"} {
		if err := a.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	if !a.has("stdout") || !a.has("stdin") || a.has("stderr") || len(a) != 2 {
		t.Errorf("after -a STDOUT -a stdin -a stdout: %v", a)
	}
	for _, v := range []string{"", "stdio", "std out", "1", "\x00"} {
		var b attachStreams
		if err := b.Set(v); err == nil || !strings.Contains(err.Error(), "valid streams are STDIN, STDOUT and STDERR") {
			t.Errorf("Set(%q) = %v, want docker's error", v, err)
		}
	}
	var none attachStreams
	if !none.has("stdout") || !none.has("stderr") || none.has("stdin") {
		t.Error("no -a: want stdout and stderr attached, stdin not")
	}
}

// TestCheckAttachRestart: -a and --restart are refused as docker's CLI refuses them, and a
// restart policy is taken with or without -d (strata refused it without).
func TestCheckAttachRestart(t *testing.T) {
	for _, tc := range []struct {
		o    runOptions
		want string
	}{
		{runOptions{restart: "always", detach: true}, ""},
		{runOptions{restart: "on-failure:3", create: true}, ""},
		{runOptions{restart: "no", rm: true}, ""},
		{runOptions{restart: "always", detach: true, rm: true}, "Conflicting options: --restart and --rm"},
		// In the foreground too, as docker's: the run attaches, its monitor restarts.
		{runOptions{restart: "always"}, ""},
		{runOptions{restart: "on-failure:2", interactive: true, tty: true}, ""},
		{runOptions{restart: "unless-stopped", rm: true}, "Conflicting options: --restart and --rm"},
		{runOptions{detach: true, attach: attachStreams{"stdout"}}, "Conflicting options: -a and -d"},
		{runOptions{restart: "bogus", detach: true}, "unknown policy"},
	} {
		p, err := tc.o.checkAttachRestart()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.o, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		case tc.want == "" && tc.o.restart == "no" && p.Name != "":
			t.Errorf("%+v: policy %+v recorded for no", tc.o, p)
		}
	}
}
