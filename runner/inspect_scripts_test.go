package runner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"text/template"
)

// TestInspectScriptTemplates: the inspect -f templates docker users' scripts run on a
// container without a healthcheck or exposed ports work, and print what docker prints: a
// wait-until-healthy loop's {{if .State.Health}} and {{.State.Health}} (<nil>), a port
// listing's {{range $p, $c := .Config.ExposedPorts}}, {{.Config.Domainname}}. Each failed
// with "no field". The JSON leaves Health and ExposedPorts out, as docker's does.
func TestInspectScriptTemplates(t *testing.T) {
	c := &Container{ID: strings.Repeat("a", 64), Config: Config{Spec: Spec{Args: []string{"sleep", "1"}}}}
	d := Inspect(c)
	for _, tt := range []struct{ tmpl, want string }{
		{`{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}`, "none"},
		{`{{.State.Health}}`, "<nil>"},
		{`{{range $p, $c := .Config.ExposedPorts}}{{$p}} {{end}}.`, "."},
		{`[{{.Config.Domainname}}]`, "[]"},
		{`{{.Config.OnBuild}}`, "[]"},
	} {
		tm, err := template.New("").Parse(tt.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tm.Execute(&b, d); err != nil || b.String() != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.tmpl, b.String(), err, tt.want)
		}
	}
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(js, []byte(`"Health"`)) || bytes.Contains(js, []byte(`"ExposedPorts"`)) {
		t.Errorf("inspect JSON shows Health or ExposedPorts, which docker leaves out when unset: %s", js)
	}
}
