package main

import (
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestStopConfig: the stop signal is --stop-signal, else the image's STOPSIGNAL (unchecked,
// as docker's), and the stop timeout is recorded only when --stop-timeout was given.
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
		// Recorded as docker's daemon records it; stop sends SIGTERM (runner.StopSignalOf).
		{name: "bad image", image: "SIGNOPE", wantSignal: "SIGNOPE", wantTime: -100},
		{name: "timeout", o: runOptions{stopTimeout: 30, stopTimeoutSet: true}, wantTime: 30},
		{name: "forever", o: runOptions{stopTimeout: -1, stopTimeoutSet: true}, wantTime: -1},
		// Any negative value, as docker's: stop's forever (stopGrace).
		{name: "negative", o: runOptions{stopTimeout: -2, stopTimeoutSet: true}, wantTime: -2},
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

// TestCheckTTY: -it with stdin that is no terminal fails at once, as docker's "the input
// device is not a TTY", instead of hanging on a pty that never sees the input end.
func TestCheckTTY(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := checkTTY(true, true, r); err == nil || !strings.Contains(err.Error(), "not a TTY") {
		t.Errorf("checkTTY(-it, pipe) = %v, want the input device is not a TTY", err)
	}
	for _, flags := range [][2]bool{{true, false}, {false, true}, {false, false}} {
		if err := checkTTY(flags[0], flags[1], r); err != nil {
			t.Errorf("checkTTY(-i %v, -t %v, pipe) = %v, want nil", flags[0], flags[1], err)
		}
	}
}
