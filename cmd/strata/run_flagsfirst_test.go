package main

import (
	"errors"
	"strings"
	"testing"
)

// TestRunFlagsBeforeImage: run and create refuse a bad flag before they look for the image,
// and before a --pull pulls it, as docker's daemon checks a container's settings before it
// looks for its image: strata said the image was missing, or with --pull downloaded it, and
// only then refused a typo in -v, -e, --add-host, -w, --hostname or --cap-add.
func TestRunFlagsBeforeImage(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"-v", "/a:/b:/c:/d"}, wantErr: "invalid volume specification"},
		{args: []string{"--mount", "type=bind,target=/x"}, wantErr: "invalid --mount"},
		{args: []string{"--tmpfs", "relative"}, wantErr: "invalid --tmpfs"},
		{args: []string{"-e", "=x"}, wantErr: "invalid environment variable"},
		{args: []string{"--env-file", "/nonexistent/env"}, wantErr: "reading env file"},
		{args: []string{"--add-host", "nocolon"}, wantErr: "invalid --add-host"},
		{args: []string{"--dns", "x"}, wantErr: "invalid IP address in --dns"},
		{args: []string{"-w", "relative"}, wantErr: "working directory"},
		{args: []string{"--hostname", "a b"}, wantErr: "invalid hostname"},
		{args: []string{"--cap-add", "BOGUS"}, wantErr: "--cap-add"},
		{args: []string{"--network", "bridge"}, wantErr: `network "bridge"`},
		{args: []string{"--security-opt", "bogus=1"}, wantErr: "--security-opt"},
		{args: []string{"--cgroupns", "bogus"}, wantErr: "--cgroupns"},
		{args: []string{"--ns", "bogus=new"}, wantErr: "--ns"},
		{args: []string{"-v", "/x:/y", "--tmpfs", "/y"}, wantErr: "duplicate mount point"},
		{args: []string{"--entrypoint", ""}, wantErr: "no command"},
		// Valid flags: the image is what is missing.
		{args: []string{"-v", "/a:/b:ro", "-e", "A=1", "-w", "/w", "--cgroupns", "host"}, wantErr: "not in the store"},
	} {
		commands := [][]string{{"create"}, {"run", "-d"}, {"run", "-d", "--pull", "always"}}
		if tt.wantErr == "not in the store" {
			commands = commands[:2]
		}
		for _, command := range commands {
			// A pull, were it tried, would find no registry there.
			args := append(append(append([]string{}, command...), tt.args...), "127.0.0.1:1/nosuchimage")
			if tt.args[0] != "--entrypoint" {
				args = append(args, "true")
			}
			_, _, err := runCLI(t, t.TempDir(), args...)
			var ee *exitError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ee) || ee.code != 125 {
				t.Errorf("%q: error %v, want status 125 and %s", args, err, tt.wantErr)
			}
		}
	}
}
