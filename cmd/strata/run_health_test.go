package main

import (
	"reflect"

	"github.com/spf13/pflag"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
)

// TestHealthFlags: --health-* and --no-healthcheck as docker's CLI reads them, with its
// errors and then its daemon's (durations below 1ms), each before anything is looked up or
// made, with 125.
func TestHealthFlags(t *testing.T) {
	tests := []struct {
		args []string
		want *runner.HealthConfig
		err  string
	}{
		{args: nil, want: nil},
		{args: []string{"--no-healthcheck"}, want: &runner.HealthConfig{Test: []string{"NONE"}}},
		{args: []string{"--health-cmd", "curl -f localhost || exit 1"}, want: &runner.HealthConfig{Test: []string{"CMD-SHELL", "curl -f localhost || exit 1"}}},
		{args: []string{"--health-cmd=/check.sh -q", "--health-interval=4.5s", "--health-timeout=2s", "--health-retries=3", "--health-start-period=1m", "--health-start-interval=100ms"},
			want: &runner.HealthConfig{Test: []string{"CMD-SHELL", "/check.sh -q"}, Interval: 4500 * time.Millisecond, Timeout: 2 * time.Second, Retries: 3, StartPeriod: time.Minute, StartInterval: 100 * time.Millisecond}},
		// Timings alone keep the image's test (runner.MergeHealthConfig).
		{args: []string{"--health-retries", "1"}, want: &runner.HealthConfig{Retries: 1}},
		{args: []string{"--no-healthcheck", "--health-cmd", "true"}, err: "--no-healthcheck conflicts with --health-* options"},
		{args: []string{"--no-healthcheck", "--health-interval", "1s"}, err: "--no-healthcheck conflicts with --health-* options"},
		{args: []string{"--no-healthcheck", "--health-start-interval", "1s"}, err: "--no-healthcheck conflicts with --health-* options"},
		{args: []string{"--health-interval", "-1s"}, err: "--health-interval cannot be negative"},
		{args: []string{"--health-timeout", "-1s"}, err: "--health-timeout cannot be negative"},
		{args: []string{"--health-retries", "-1"}, err: "--health-retries cannot be negative"},
		{args: []string{"--health-start-period", "-1s"}, err: "--health-start-period cannot be negative"},
		{args: []string{"--health-start-interval", "-1s"}, err: "--health-start-interval cannot be negative"},
		{args: []string{"--health-interval", "500us"}, err: "Interval in Healthcheck cannot be less than 1ms"},
		{args: []string{"--health-timeout", "1ns"}, err: "Timeout in Healthcheck cannot be less than 1ms"},
		{args: []string{"--health-start-period", "999us"}, err: "StartPeriod in Healthcheck cannot be less than 1ms"},
		{args: []string{"--health-start-interval", "1us"}, err: "StartInterval in Healthcheck cannot be less than 1ms"},
	}
	root := t.TempDir()
	for _, tt := range tests {
		var h healthOptions
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		addHealthFlags(fs, &h)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("parsing %q: %v", tt.args, err)
		}
		got, err := h.config()
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("config(%q) = %+v, %v; want %s", tt.args, got, err, tt.err)
			}
			// The whole command: refused before the image is looked for (none is in this
			// store), with docker's 125.
			for _, verb := range []string{"run", "create"} {
				args := append(append([]string{verb}, tt.args...), "alpine", "true")
				_, err := strata(t, root, nil, args...)
				if err == nil || err.Error() != tt.err || exitCodeOf(err) != 125 {
					t.Errorf("strata %s = %v (exit %d), want %s and 125", strings.Join(args, " "), err, exitCodeOf(err), tt.err)
				}
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("config(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
	// A duration without a unit is a flag that does not parse: 125 too.
	_, err := strata(t, root, nil, "run", "--health-interval", "5", "alpine", "true")
	if err == nil || !strings.Contains(err.Error(), "--health-interval") || exitCodeOf(err) != 125 {
		t.Errorf("run --health-interval 5 = %v (exit %d), want a flag error and 125", err, exitCodeOf(err))
	}
}
