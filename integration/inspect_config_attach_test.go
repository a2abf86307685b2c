package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestInspectConfigAttachHealthcheck: a container's inspect .Config has docker's
// AttachStdin/AttachStdout/AttachStderr/StdinOnce as docker's CLI sets them (run and create
// attach stdout and stderr, -i stdin too and StdinOnce; run -d nothing, -d -i only
// OpenStdin) and its Healthcheck, the image's copied at creation or nil: templates on them
// failed with "no field". A container made before strata kept them reads docker's zero
// values.
func TestInspectConfigAttachHealthcheck(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	loadConfigImage(t, root, "healthy:1", nil, nil, func(c *v1.Config) {
		c.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3}
	})
	loadConfigImage(t, root, "plain:1", nil, nil, nil)
	t.Cleanup(func() { strata(t, root, "rm", "-f", "fg", "fgi", "bg", "bgi", "cr", "cri", "hc", "old") })
	mustStrata(t, root, "run", "--name", "fg", "plain:1", "true")
	mustStrata(t, root, "run", "-i", "--name", "fgi", "plain:1", "true")
	mustStrata(t, root, "run", "-d", "--name", "bg", "plain:1", "true")
	mustStrata(t, root, "run", "-d", "-i", "--name", "bgi", "plain:1", "true")
	mustStrata(t, root, "create", "--name", "cr", "plain:1", "true")
	mustStrata(t, root, "create", "-i", "--name", "cri", "plain:1", "true")
	mustStrata(t, root, "create", "--name", "hc", "healthy:1")
	old := strings.TrimSpace(mustStrata(t, root, "create", "--name", "old", "healthy:1").Stdout)

	// A config.json written before strata kept these fields.
	cfgPath := filepath.Join(root, "containers", old, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"attachStdin", "attachStdout", "attachStderr", "stdinOnce", "argsEscaped", "healthcheck"} {
		delete(raw, k)
	}
	if b, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	const format = "{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}} {{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.Healthcheck}}"
	for _, tc := range []struct{ name, want string }{
		{"fg", "false true true false false <nil>"},
		{"fgi", "true true true true true <nil>"},
		{"bg", "false false false false false <nil>"},
		{"bgi", "false false false true false <nil>"},
		{"cr", "false true true false false <nil>"},
		{"cri", "true true true true true <nil>"},
		{"hc", "false true true false false {[CMD-SHELL true] 30s 5s 0s 0s 3}"},
		{"old", "false false false false false <nil>"},
	} {
		if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", format, tc.name).Stdout); got != tc.want {
			t.Errorf("inspect -f %s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// docker's other Config fields read as its zero values in templates.
	if got := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{.Config.ArgsEscaped}} {{.Config.NetworkDisabled}} {{.Config.MacAddress}}|{{.Config.Shell}}", "cr").Stdout); got != "false false |[]" {
		t.Errorf("inspect -f ArgsEscaped NetworkDisabled MacAddress Shell = %q", got)
	}

	var got []struct{ Config map[string]any }
	if err := json.Unmarshal([]byte(mustStrata(t, root, "inspect", "hc", "cr").Stdout), &got); err != nil || len(got) != 2 {
		t.Fatalf("inspect hc cr: %v", err)
	}
	hc, _ := json.Marshal(got[0].Config["Healthcheck"])
	if want := `{"Interval":30000000000,"Retries":3,"Test":["CMD-SHELL","true"],"Timeout":5000000000}`; string(hc) != want {
		t.Errorf("inspect hc Config.Healthcheck = %s, want %s", hc, want)
	}
	for _, k := range []string{"AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce"} {
		if _, ok := got[1].Config[k].(bool); !ok {
			t.Errorf("inspect cr Config.%s = %#v, want a bool", k, got[1].Config[k])
		}
	}
	for _, k := range []string{"Healthcheck", "ArgsEscaped", "NetworkDisabled", "MacAddress", "Shell"} {
		if v, ok := got[1].Config[k]; ok {
			t.Errorf("inspect cr Config.%s = %#v, want it left out as docker's", k, v)
		}
	}
}
