package main

import (
	"errors"
	"time"

	"github.com/spf13/pflag"
	"github.com/strata-run/strata/runner"
)

// healthOptions are docker run's and create's healthcheck flags (docker/cli
// cli/command/container/opts.go).
type healthOptions struct {
	cmd           string
	interval      time.Duration
	timeout       time.Duration
	startPeriod   time.Duration
	startInterval time.Duration
	retries       int
	none          bool // --no-healthcheck
}

func addHealthFlags(f *pflag.FlagSet, o *healthOptions) {
	f.StringVar(&o.cmd, "health-cmd", "", "command to run to check health (run with /bin/sh -c in the container)")
	f.DurationVar(&o.interval, "health-interval", 0, "time between running the check (ms|s|m|h) (default 30s, or the image's)")
	f.DurationVar(&o.timeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h) (default 30s, or the image's)")
	f.DurationVar(&o.startPeriod, "health-start-period", 0, "start period for the container to initialize before failed checks count toward the retries (ms|s|m|h) (default 0s, or the image's)")
	f.DurationVar(&o.startInterval, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h) (default 5s, or the image's)")
	f.IntVar(&o.retries, "health-retries", 0, "consecutive failures needed to report unhealthy (default 3, or the image's)")
	f.BoolVar(&o.none, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
}

// config is the healthcheck the flags ask for, nil without any: docker's CLI's checks, then
// its daemon's (runner.ValidateHealthConfig), with their words. Fields left zero are the
// image's (runner.MergeHealthConfig); --no-healthcheck is the test NONE.
func (o *healthOptions) config() (*runner.HealthConfig, error) {
	have := o.cmd != "" || o.interval != 0 || o.timeout != 0 || o.startPeriod != 0 ||
		o.retries != 0 || o.startInterval != 0
	if o.none {
		if have {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &runner.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !have {
		return nil, nil
	}
	for _, v := range []struct {
		flag     string
		negative bool
	}{
		{"--health-interval", o.interval < 0},
		{"--health-timeout", o.timeout < 0},
		{"--health-retries", o.retries < 0},
		{"--health-start-period", o.startPeriod < 0},
		{"--health-start-interval", o.startInterval < 0},
	} {
		if v.negative {
			return nil, errors.New(v.flag + " cannot be negative")
		}
	}
	h := &runner.HealthConfig{
		Interval:      o.interval,
		Timeout:       o.timeout,
		StartPeriod:   o.startPeriod,
		StartInterval: o.startInterval,
		Retries:       o.retries,
	}
	if o.cmd != "" {
		h.Test = []string{"CMD-SHELL", o.cmd}
	}
	if err := runner.ValidateHealthConfig(h); err != nil {
		return nil, err
	}
	return h, nil
}
