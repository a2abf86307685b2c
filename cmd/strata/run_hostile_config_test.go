package main

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestStopConfigHostile: an image's STOPSIGNAL is any string its author wrote; a bad one is
// recorded as the image has it, as docker's daemon does (stop then sends SIGTERM), never
// refused, and a megabyte of it is cut to a few dozen bytes instead of being copied into
// config.json. A bad --stop-signal is one short line naming it.
func TestStopConfigHostile(t *testing.T) {
	for sig, want := range map[string]string{
		"SIGFOO":                         "SIGFOO",
		"999":                            "999",
		"-1":                             "-1",
		"SIG\x00TERM":                    "SIG\x00TERM",
		strings.Repeat("SIGTERM", 1<<17): strings.Repeat("SIGTERM", 10)[:maxImageStopSignal],
		strings.Repeat("é", 1<<15):       strings.Repeat("é", maxImageStopSignal/2),
		"a" + strings.Repeat("é", 1<<15): "a" + strings.Repeat("é", maxImageStopSignal/2-1),
	} {
		var o runOptions
		got, _, err := o.stopConfig(&v1.ConfigFile{Config: v1.Config{StopSignal: sig}})
		if err != nil || got != want {
			t.Errorf("stopConfig(image's %.40q) = %.80q, %v; want %.80q", sig, got, err, want)
		}
	}
	for sig, want := range map[string]string{
		"SIGFOO":                         `invalid --stop-signal: invalid signal "SIGFOO"`,
		"999":                            `invalid --stop-signal: invalid signal "999": out of range`,
		strings.Repeat("SIGTERM", 1<<17): `invalid --stop-signal: invalid signal "SIGTERMSIGTERMSIGTERMSIGTERMSIGT"…`,
	} {
		o := runOptions{stopSignal: sig}
		_, _, err := o.stopConfig(&v1.ConfigFile{Config: v1.Config{StopSignal: "SIGTERM"}})
		if err == nil || err.Error() != want {
			t.Errorf("stopConfig(--stop-signal %.40q) = %.200v, want %s", sig, err, want)
		}
	}
}
