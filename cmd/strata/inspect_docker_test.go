package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-run/strata/runner"
)

// TestInspectAsDocker: a created container's inspect has docker's field names and types
// (times as RFC 3339 strings, never-happened ones as "0001-01-01T00:00:00Z"; State's flags;
// Name with "/"), templates read them as docker's do, and several names print one array of
// what was found, with an error for the missing one.
func TestInspectAsDocker(t *testing.T) {
	root := t.TempDir()
	store, err := runner.OpenStore(filepath.Join(root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC)
	imageID := "sha256:" + strings.Repeat("0f", 32)
	c, err := store.Create(runner.Config{Name: "web", Image: "alpine", ImageID: imageID, Created: created,
		Spec: runner.Spec{Args: []string{"sh", "-c", "echo hi"}, Env: []string{"A=b c"}}})
	if err != nil {
		t.Fatal(err)
	}

	out, err := strata(t, root, nil, "inspect", "web")
	if err != nil {
		t.Fatalf("inspect web = %v", err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect web = %q: %v", out, err)
	}
	d := got[0]
	state, _ := d["State"].(map[string]any)
	checks := map[string]any{
		"Id": c.ID, "Created": "2026-11-28T10:00:00.123456789Z", "Path": "sh", "Name": "/web",
		"Image": imageID, "RestartCount": float64(0), "Driver": "vfs",
		"State.Status": "created", "State.Running": false, "State.Paused": false,
		"State.Restarting": false, "State.OOMKilled": false, "State.Dead": false,
		"State.Pid": float64(0), "State.ExitCode": float64(0), "State.Error": "",
		"State.StartedAt": "0001-01-01T00:00:00Z", "State.FinishedAt": "0001-01-01T00:00:00Z",
	}
	for k, want := range checks {
		var v any
		if s, ok := strings.CutPrefix(k, "State."); ok {
			v = state[s]
		} else {
			v = d[k]
		}
		if v != want {
			t.Errorf("inspect %s = %#v, want %#v", k, v, want)
		}
	}
	if m, ok := d["Mounts"].([]any); !ok || len(m) != 0 {
		t.Errorf("inspect Mounts = %#v, want [] as docker's", d["Mounts"])
	}
	for _, k := range []string{"Config", "HostConfig", "NetworkSettings"} {
		if _, ok := d[k].(map[string]any); !ok {
			t.Errorf("inspect %s = %#v, want an object", k, d[k])
		}
	}
	if cfg, _ := d["Config"].(map[string]any); cfg["Labels"] == nil {
		t.Errorf("inspect Config.Labels = %#v, want {} as docker's", cfg["Labels"])
	}

	for _, tt := range []struct{ format, want string }{
		{"{{.Created}}", "2026-11-28T10:00:00.123456789Z"},
		{"{{.State.FinishedAt}}", "0001-01-01T00:00:00Z"},
		{"{{.Name}} {{.State.Status}} {{.State.Dead}}", "/web created false"},
		{"{{json .Args}}", `["-c","echo hi"]`},
		{"{{.Image}} {{.Config.Image}}", imageID + " alpine"},
		{"{{upper .Config.Image}}|{{lower .Name}}|{{title .State.Status}}", "ALPINE|/web|Created"},
		{"{{index .Config.Env 0}}|{{len .Args}}|{{join .Args \",\"}}", "A=b c|2|-c,echo hi"},
		{"{{index (split (index .Config.Env 0) \"=\") 1}}", "b c"},
		{"{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.LogConfig.Type}}", "no json-file"},
		{"{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.IPAddress}}{{end}}", "none:"},
		{"{{println .Id}}", c.ID + "\n"},
		// HostConfig and GraphDriver with docker's zero values; keys that are not the Go
		// field's name (Dns, NanoCpus, CpuShares) are read from the JSON, as docker does.
		{"{{.HostConfig.PidsLimit}} {{json .HostConfig.Binds}} {{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}}", "<nil> null 67108864 private"},
		{"{{json .HostConfig.Dns}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{json .HostConfig.PortBindings}}", "[] 0 0 {}"},
		{"{{.GraphDriver.Name}} {{json .GraphDriver.Data}} {{.Driver}} {{.HostsPath}}|", "vfs null vfs |"},
	} {
		out, err := strata(t, root, nil, "inspect", "-f", tt.format, "web")
		if err != nil || out != tt.want+"\n" {
			t.Errorf("inspect -f %q = %q, %v, want %q", tt.format, out, err, tt.want+"\n")
		}
	}

	// Several names: one array of those found, an error naming the one that is not.
	out, err = strata(t, root, nil, "inspect", "--type", "container", "web", "nosuch", c.ID[:8])
	got = nil
	if jerr := json.Unmarshal([]byte(out), &got); jerr != nil || len(got) != 2 || err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("inspect web nosuch ID = %d found (%v), %v; want 2 and an error naming nosuch", len(got), jerr, err)
	}

	// -s: the sizes docker adds, only when asked.
	out, err = strata(t, root, nil, "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "web")
	if err != nil || len(strings.Fields(out)) != 2 || strings.Contains(out, "nil") {
		t.Errorf("inspect -s = %q, %v, want two sizes", out, err)
	}
	if out, _ := strata(t, root, nil, "inspect", "web"); strings.Contains(out, "SizeRw") {
		t.Errorf("inspect without -s shows SizeRw")
	}
}

// TestInspectEntrypointFromCreate: create records which of the command's words are the
// entrypoint (the image's, or --entrypoint's), so inspect's Config.Entrypoint and Config.Cmd
// are docker's.
func TestInspectEntrypointFromCreate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates containers")
	}
	root := t.TempDir()
	const image = "busybox:1.38.0-musl" // Cmd ["sh"], no entrypoint
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args      []string
		want, cmd string
	}{
		{[]string{"--name", "plain", image}, "null", `["sh"]`},
		{[]string{"--name", "args", image, "echo", "hi"}, "null", `["echo","hi"]`},
		{[]string{"--name", "entry", "--entrypoint", "/bin/echo", image, "a", "b"}, `["/bin/echo"]`, `["a","b"]`},
		{[]string{"--name", "entryonly", "--entrypoint", "/bin/true", image}, `["/bin/true"]`, "null"},
	} {
		name := tt.args[1]
		t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", name) })
		if _, err := strata(t, root, nil, append([]string{"create"}, tt.args...)...); err != nil {
			t.Fatalf("create %q = %v", tt.args, err)
		}
		out, err := strata(t, root, nil, "inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", name)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(out), tt.want+" "+tt.cmd; got != want {
			t.Errorf("create %q: inspect Entrypoint Cmd = %q, want %q", tt.args, got, want)
		}
	}
}
