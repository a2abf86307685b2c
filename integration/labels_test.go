package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestLabels: run and create take docker's -l/--label and --label-file, over the image's
// LABELs, and keep them in the container's config: inspect shows them, ps filters on them
// (label=key, label=key=value) and prints them ({{.Labels}}, {{.Label "k"}}), container
// prune selects by them. A bad label is refused in one line with 125 before the image is
// looked for, and nothing is made.
func TestLabels(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	loadConfigImage(t, root, "labelled:1", nil, nil, func(c *v1.Config) {
		c.Labels = map[string]string{"maintainer": "image", "tier": "image"}
	})
	file := filepath.Join(t.TempDir(), "labels")
	if err := os.WriteFile(file, []byte("# team labels\nteam=infra\ntier=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustStrata(t, root, "create", "--name", "web", "--label-file", file, "-l", "tier=web", "--label", "canary", "labelled:1", "true")
	mustStrata(t, root, "run", "--name", "plain", "labelled:1", "true")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "web", "plain") })

	var labels map[string]string
	out := mustStrata(t, root, "inspect", "-f", "{{json .Config.Labels}}", "web").Stdout
	if err := json.Unmarshal([]byte(out), &labels); err != nil {
		t.Fatalf("inspect's Config.Labels %q: %v", out, err)
	}
	want := map[string]string{"maintainer": "image", "tier": "web", "team": "infra", "canary": ""}
	if len(labels) != len(want) {
		t.Errorf("web's labels = %v, want %v", labels, want)
	}
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			t.Errorf("web's label %s = %q (%v), want %q", k, got, ok, v)
		}
	}
	if out := strings.TrimSpace(mustStrata(t, root, "inspect", "-f", "{{json .Config.Labels}}", "plain").Stdout); out != `{"maintainer":"image","tier":"image"}` {
		t.Errorf("plain's labels = %s, want the image's", out)
	}

	for _, tc := range []struct{ filter, want string }{
		{"label=team", "web"},
		{"label=tier=image", "plain"},
		{"label=maintainer", "plain web"},
		{"label=canary=", "web"},
		{"label=nosuch", ""},
	} {
		got := strings.Fields(mustStrata(t, root, "ps", "-a", "--filter", tc.filter, "--format", "{{.Names}}").Stdout)
		if strings.Join(slices.Sorted(slices.Values(got)), " ") != tc.want {
			t.Errorf("ps -a --filter %s = %q, want %q", tc.filter, got, tc.want)
		}
	}
	if out := mustStrata(t, root, "ps", "-a", "--filter", "name=web", "--format", `{{.Labels}}|{{.Label "team"}}`).Stdout; out != "canary=,maintainer=image,team=infra,tier=web|infra\n" {
		t.Errorf("ps {{.Labels}}|{{.Label \"team\"}} = %q", out)
	}

	r := mustStrata(t, root, "container", "prune", "-f", "--filter", "label=team=infra")
	if !strings.Contains(r.Stdout, "Deleted Containers:") || strings.Count(r.Stdout, "\n") < 2 {
		t.Errorf("container prune --filter label=team=infra = %q, want web deleted", r.Stdout)
	}
	if out := strings.TrimSpace(mustStrata(t, root, "ps", "-a", "--format", "{{.Names}}").Stdout); out != "plain" {
		t.Errorf("after the prune by label: %q, want plain alone", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-l", "=x"}, "empty name"},
		{[]string{"-l", "a b=c"}, "whitespace"},
		{[]string{"--label-file", filepath.Join(t.TempDir(), "nosuch")}, "no such file"},
		{[]string{"--label-file", "/dev/zero"}, "label file"},
	} {
		for _, cmd := range []string{"run", "create"} {
			args := append(append([]string{cmd, "--rm"}, tc.args...), "labelled:1", "true")
			if cmd == "create" {
				args = append(append([]string{cmd}, tc.args...), "labelled:1", "true")
			}
			checkRefused(t, strings.Join(args, " "), strata(t, root, args...), 125, tc.want)
		}
	}
	// A bad --label is refused before the image is looked for, as docker's CLI parses it.
	checkRefused(t, "run -l =x nosuch", strata(t, root, "run", "-l", "=x", "nosuch:1", "true"), 125, "empty name")
	if out := strings.TrimSpace(mustStrata(t, root, "ps", "-a", "--format", "{{.Names}}").Stdout); out != "plain" {
		t.Errorf("containers after the refused ones: %q, want plain alone", out)
	}
}
