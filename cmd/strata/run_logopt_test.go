package main

import (
	"errors"
	"strings"
	"testing"
)

// TestRunLogOptRefused: run and create refuse a logging driver strata has not and json-file
// options it does not know or cannot read, in docker's words, with status 125 and before
// anything is looked up (docker's daemon checks the values only at the container's start,
// having made it).
func TestRunLogOptRefused(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"--log-driver", "gelf"}, wantErr: "logger: no log driver named 'gelf' is registered"},
		{args: []string{"--log-opt", "max-size=10x"}, wantErr: "invalid size: '10x'"},
		{args: []string{"--log-opt", "max-size=10m", "--log-opt", "max-file=0"}, wantErr: "max-file cannot be less than 1"},
		{args: []string{"--log-opt", "retention=3"}, wantErr: "unknown log opt 'retention' for json-file log driver"},
		{args: []string{"--log-driver=none", "--log-opt", "max-size=1m"}, wantErr: "invalid logging opts for driver none"},
		{args: []string{"--log-driver", "local", "--log-opt", "max-file=1"}, wantErr: "compression cannot be enabled when max file count is 1"},
		{args: []string{"--log-driver", "local", "--log-opt", "size=1"}, wantErr: "unknown log opt 'size' for log driver local"},
		// Valid ones pass the check, to fail on the image the empty root does not have.
		{args: []string{"--log-opt", "max-size=10m", "--log-opt", "max-file=3", "--log-opt", "compress=true"}, wantErr: "nosuchimage"},
		{args: []string{"--log-driver", "none"}, wantErr: "nosuchimage"},
		{args: []string{"--log-driver", "local", "--log-opt", "max-size=1m"}, wantErr: "nosuchimage"},
	} {
		for _, command := range [][]string{{"create"}, {"run", "-d"}, {"run"}} {
			args := append(append(append([]string{}, command...), tt.args...), "nosuchimage", "true")
			_, _, err := runCLI(t, t.TempDir(), args...)
			var ee *exitError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ee) || ee.code != 125 {
				t.Errorf("%q: error %v, want status 125 and %s", args, err, tt.wantErr)
			}
		}
	}
}
