package main

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int // 0: no error
		want string
	}{
		{args: []string{"frobnicate"}, code: 1, want: `unknown command "frobnicate" (see 'strata --help')`},
		{args: []string{"lgos"}, code: 1, want: `did you mean "logs"?`},
		{args: []string{"--bogus"}, code: 125, want: "unknown flag: --bogus (see 'strata --help')"},
		{args: []string{"system", "bogus"}, code: 1, want: `system: unknown command "bogus" (see 'strata system --help')`},
		{args: []string{"image", "inspect", "--bogus"}, code: 125, want: "image inspect: unknown flag: --bogus (see 'strata image inspect --help')"},
		{args: []string{"images", "x", "y"}, code: 1, want: `images: accepts at most 1 arg(s), received 2`},
		{args: []string{"tag", "a"}, code: 1, want: "tag: accepts 2 arg(s), received 1"},
		{args: []string{"help", "bogus"}, code: 1, want: `unknown help topic "bogus"`},
		// A wrong argument count is cobra's Args error, which docker's CLI returns as a plain
		// error (cli.RequiresMinArgs): exit 1, for run's family too; only a flag that does not
		// parse is its FlagErrorFunc's StatusError, 125.
		{args: []string{"run"}, code: 1, want: "run: requires at least 1 arg(s)"},
		{args: []string{"run", "--bogus", "alpine"}, code: 125, want: "run: unknown flag"},
		{args: []string{"exec", "c"}, code: 1, want: "exec: requires at least 2 arg(s)"},
		{args: []string{"start"}, code: 1},
		{args: []string{"enter"}, code: 1},
		{args: []string{"container", "create"}, code: 1, want: "container create: requires at least 1 arg(s)"},
		{args: []string{"container", "start"}, code: 1},
		{args: []string{"run", "--detach-keys", "bogus", "alpine"}, code: 125, want: "invalid --detach-keys"},
		// volume create is not run's family: docker's exits 1 for its argument count.
		{args: []string{"volume", "create", "a", "b"}, code: 1, want: "volume create: accepts at most 1 arg(s), received 2"},
		{args: []string{"system"}},
		{args: []string{"image"}},
		{args: []string{"version"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := newRootCmd(&globals{})
			cmd.SetArgs(append([]string{"--root", t.TempDir()}, tt.args...))
			cmd.SetOut(io.Discard)
			err := cmd.Execute()
			if tt.code == 0 {
				if err != nil {
					t.Errorf("strata %v = %v, want no error", tt.args, err)
				}
				return
			}
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != tt.code {
				t.Fatalf("strata %v = %v, want exit %d", tt.args, err, tt.code)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("strata %v = %q, want one line with %q", tt.args, msg, tt.want)
			}
		})
	}
}

// TestGroupUsageLine: a command that takes a subcommand shows one usage line, as docker's
// ("docker image COMMAND"), not cobra's two ("strata image" as if it ran alone, then
// "strata image [command]").
func TestGroupUsageLine(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:\n  strata [OPTIONS] COMMAND\n"},
		{[]string{"volume"}, "Usage:\n  strata volume COMMAND\n"},
		{[]string{"container"}, "Usage:\n  strata container COMMAND\n"},
		{[]string{"volume", "create"}, "Usage:\n  strata volume create [OPTIONS] [VOLUME]\n"},
	} {
		cmd := newRootCmd(&globals{})
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.SetArgs(append(append([]string{"--root", t.TempDir()}, tt.args...), "--help"))
		if err := cmd.Execute(); err != nil {
			t.Fatalf("strata %v --help: %v", tt.args, err)
		}
		help := out.String()
		if !strings.Contains(help, tt.want) || strings.Contains(help, "[command]") {
			t.Errorf("strata %v --help:\n%s\nwant %q and no \"[command]\"", tt.args, help, tt.want)
		}
	}
}
