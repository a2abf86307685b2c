package main

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestStopConfig: the stop signal is --stop-signal, else the image's STOPSIGNAL (checked
// like the flag), and the stop timeout is recorded only when --stop-timeout was given.
func TestStopConfig(t *testing.T) {
	image := func(sig string) *v1.ConfigFile { return &v1.ConfigFile{Config: v1.Config{StopSignal: sig}} }
	for _, tt := range []struct {
		name       string
		o          runOptions
		image      string
		wantSignal string
		wantTime   int // -100: none recorded
		wantErr    string
	}{
		{name: "defaults", wantTime: -100},
		{name: "image's", image: "SIGQUIT", wantSignal: "SIGQUIT", wantTime: -100},
		{name: "systemd image's", image: "SIGRTMIN+3", wantSignal: "SIGRTMIN+3", wantTime: -100},
		{name: "flag wins", o: runOptions{stopSignal: "USR1"}, image: "SIGQUIT", wantSignal: "USR1", wantTime: -100},
		{name: "bad flag", o: runOptions{stopSignal: "NOPE"}, wantErr: "--stop-signal"},
		{name: "bad image", image: "SIGNOPE", wantErr: "invalid STOPSIGNAL in the image: "},
		{name: "timeout", o: runOptions{stopTimeout: 30, stopTimeoutSet: true}, wantTime: 30},
		{name: "forever", o: runOptions{stopTimeout: -1, stopTimeoutSet: true}, wantTime: -1},
		{name: "bad timeout", o: runOptions{stopTimeout: -2, stopTimeoutSet: true}, wantErr: "--stop-timeout"},
	} {
		sig, timeout, err := tt.o.stopConfig(image(tt.image))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one naming %s", tt.name, err, tt.wantErr)
			}
			continue
		}
		got := -100
		if timeout != nil {
			got = *timeout
		}
		if err != nil || sig != tt.wantSignal || got != tt.wantTime {
			t.Errorf("%s: stopConfig = %q, %d, %v; want %q, %d", tt.name, sig, got, err, tt.wantSignal, tt.wantTime)
		}
	}
}
