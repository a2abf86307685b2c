package main

import (
	"errors"
	"strings"
	"testing"
)

// TestRunEmptyLimitRefused: run and create refuse --memory, --memory-swap and --cpus given an
// empty value, as docker's CLI does (an invalid size, a rational number it cannot parse),
// with status 125 and before anything is looked up: a script's `-m "$LIMIT"` with
// LIMIT unset ran the container without any limit. Left out, they are no limit, as before.
func TestRunEmptyLimitRefused(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"--memory="}, wantErr: `invalid memory value ""`},
		{args: []string{"-m", ""}, wantErr: `invalid memory value ""`},
		{args: []string{"--memory-swap="}, wantErr: `invalid memory-swap value ""`},
		{args: []string{"-m", "10m", "--memory-swap", ""}, wantErr: `invalid memory-swap value ""`},
		{args: []string{"--cpus="}, wantErr: `invalid cpus value ""`},
		{args: []string{"--cpus", " "}, wantErr: `invalid cpus value " "`},
		// Valid limits pass the check, to fail on the image the empty root does not have.
		{args: []string{"-m", "10m", "--memory-swap", "-1", "--cpus", "0"}, wantErr: "nosuchimage"},
	} {
		for _, command := range [][]string{{"create"}, {"run", "-d"}} {
			args := append(append(append([]string{}, command...), tt.args...), "nosuchimage", "true")
			_, _, err := runCLI(t, t.TempDir(), args...)
			var ee *exitError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ee) || ee.code != 125 {
				t.Errorf("%q: error %v, want status 125 and %s", args, err, tt.wantErr)
			}
		}
	}
}
