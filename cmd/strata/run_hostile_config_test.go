package main

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestStopConfigHostile: an image's STOPSIGNAL is any string its author wrote; a bad one is
// one short line naming it, a megabyte included.
func TestStopConfigHostile(t *testing.T) {
	for sig, want := range map[string]string{
		"SIGFOO":                         `invalid STOPSIGNAL in the image: invalid signal "SIGFOO"`,
		"999":                            `invalid STOPSIGNAL in the image: invalid signal "999": out of range`,
		"-1":                             `invalid STOPSIGNAL in the image: invalid signal "-1": out of range`,
		"SIG\x00TERM":                    `invalid STOPSIGNAL in the image: invalid signal "SIG\x00TERM"`,
		strings.Repeat("SIGTERM", 1<<17): `invalid STOPSIGNAL in the image: invalid signal "SIGTERMSIGTERMSIGTERMSIGTERMSIGT"…`,
	} {
		var o runOptions
		_, _, err := o.stopConfig(&v1.ConfigFile{Config: v1.Config{StopSignal: sig}})
		if err == nil || err.Error() != want {
			t.Errorf("stopConfig(%.40q) = %.200v, want %s", sig, err, want)
		}
	}
}
