package main

import (
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// TestVersionFormat: `version --format` reads docker version's Client and Server fields, as
// scripts that check a version do ('{{.Client.Version}}', '{{.Server.Version}}'); json and
// '{{json .}}' print them as one JSON document, and a bad template fails in one line.
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
	// docker scripts read the server's version too: strata has no daemon, so Server is the
	// local engine, as podman's is, with docker's Engine component.
	for _, tt := range []struct {
		format, want string
	}{
		{"{{.Server.Version}}", version + "\n"},
		{"{{.Client.Version}} {{.Server.Version}}", version + " " + version + "\n"},
		{"{{.Server.Os}}/{{.Server.Arch}} {{.Server.GoVersion}}", runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version() + "\n"},
		{"{{.Server.Platform.Name}}", "strata\n"},
		{`{{range .Server.Components}}{{.Name}} {{.Version}} {{index .Details "GoVersion"}}{{end}}`, "Engine " + version + " " + runtime.Version() + "\n"},
	} {
		out, err := run("--format", tt.format)
		if err != nil || out != tt.want {
			t.Errorf("version --format %q = %q, %v; want %q", tt.format, out, err, tt.want)
		}
	}
	out, err := run("--format", "json")
	var doc struct {
		Server struct{ Version, Os, KernelVersion string }
	}
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || doc.Server.Version != version || doc.Server.Os != runtime.GOOS || doc.Server.KernelVersion == "" {
		t.Errorf("version --format json = %q, %v; want the Server section", out, err)
	}
	_, err = run("--format", "{{.Server.Bogus}}")
	var ee *exitError
	if err == nil || strings.Contains(err.Error(), "\n") || (errors.As(err, &ee) && ee.code == 0) {
		t.Errorf("version --format '{{.Server.Bogus}}' = %v, want a one-line error", err)
	}
	// The plain report is as before.
	out, err = run()
	if err != nil || !strings.HasPrefix(out, "Version:    "+version+"\n") {
		t.Errorf("version = %q, %v", out, err)
	}
}
