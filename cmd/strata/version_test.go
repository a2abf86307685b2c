package main

import (
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// TestVersionFormat: `version --format` reads docker version's Client fields, as scripts
// that check a version do ('{{.Client.Version}}'); json and '{{json .}}' print them as one
// JSON document, and a bad template fails in one line.
func TestVersionFormat(t *testing.T) {
	run := func(args ...string) (string, error) {
		cmd := newRootCmd(&globals{})
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append([]string{"--root", t.TempDir(), "version"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	for _, tt := range []struct {
		format, want string
	}{
		{"{{.Client.Version}}", version + "\n"},
		{"{{.Client.Os}}/{{.Client.Arch}}", runtime.GOOS + "/" + runtime.GOARCH + "\n"},
		{"{{.Client.GoVersion}}", runtime.Version() + "\n"},
	} {
		out, err := run("--format", tt.format)
		if err != nil || out != tt.want {
			t.Errorf("version --format %q = %q, %v; want %q", tt.format, out, err, tt.want)
		}
	}
	for _, format := range []string{"json", "{{json .}}"} {
		out, err := run("-f", format)
		var got struct {
			Client struct{ Version, GoVersion, Os, Arch string }
		}
		if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.Client.Version != version ||
			got.Client.GoVersion != runtime.Version() || got.Client.Os != runtime.GOOS || got.Client.Arch != runtime.GOARCH {
			t.Errorf("version -f %s = %q, %v; want the client's fields as JSON", format, out, err)
		}
	}
	_, err := run("--format", "{{.Server.Version}}")
	var ee *exitError
	if err == nil || strings.Contains(err.Error(), "\n") || (errors.As(err, &ee) && ee.code == 0) {
		t.Errorf("version --format '{{.Server.Version}}' = %v, want a one-line error", err)
	}
	// The plain report is as before.
	out, err := run()
	if err != nil || !strings.HasPrefix(out, "Version:    "+version+"\n") {
		t.Errorf("version = %q, %v", out, err)
	}
}
