package main

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/strata-run/strata/runner"
)

// TestInspectExposedPorts: a container's inspect shows its image's EXPOSE ports in
// Config.ExposedPorts, as docker copies them into the container's config, so a port listing's
// {{range $p, $_ := .Config.ExposedPorts}} prints "80/tcp" for an nginx-like image; it printed
// nothing. A container of an image without any leaves the field out, as docker does.
func TestInspectExposedPorts(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	storeEditedBusybox(t, root, "docker.io/library/web:latest", func(c *v1.Config) {
		c.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8080": {}}
	})
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "web", "plain") })
	if _, err := strata(t, root, nil, "create", "--name", "web", "web", "true"); err != nil {
		t.Fatal(err)
	}
	if _, err := strata(t, root, nil, "create", "--name", "plain", "busybox:1.38.0-musl", "true"); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "inspect", "-f", "{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}", "web")
	if want := "53/udp 80/tcp 8080/tcp \n"; err != nil || out != want {
		t.Errorf("inspect -f ExposedPorts web = %q, %v; want %q", out, err, want)
	}
	out, err = strata(t, root, nil, "inspect", "plain")
	if err != nil {
		t.Fatal(err)
	}
	var got []struct{ Config map[string]any }
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("inspect plain = %q: %v", out, err)
	}
	if _, ok := got[0].Config["ExposedPorts"]; ok {
		t.Errorf("inspect plain shows ExposedPorts %v, want it left out", got[0].Config["ExposedPorts"])
	}
	if p := runner.ExposedPorts(map[string]struct{}{"x/tcp": {}, "0/tcp": {}, "70000": {}, "443/TCP": {}}); len(p) != 1 {
		t.Errorf("ExposedPorts = %v, want 443/tcp alone", p)
	}
}

// TestRunExpose: create and run take docker's --expose, PORT[-PORT][/PROTO], and add its
// ports to the image's in Config.ExposedPorts (a range as each of its ports); it was an
// unknown flag. A bad value fails before anything is made.
func TestRunExpose(t *testing.T) {
	root := t.TempDir()
	if _, err := strata(t, root, nil, "load", "-q", "-i", busyboxLayout(t)); err != nil {
		t.Fatal(err)
	}
	storeEditedBusybox(t, root, "docker.io/library/web:latest", func(c *v1.Config) {
		c.ExposedPorts = map[string]struct{}{"80/tcp": {}}
	})
	t.Cleanup(func() { _, _ = strata(t, root, nil, "rm", "-f", "exp") })
	if _, err := strata(t, root, nil, "create", "--name", "exp", "--expose", "53/UDP", "--expose", "8000-8002", "--expose", "80", "web", "true"); err != nil {
		t.Fatal(err)
	}
	out, err := strata(t, root, nil, "inspect", "-f", "{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}", "exp")
	if want := "53/udp 80/tcp 8000/tcp 8001/tcp 8002/tcp \n"; err != nil || out != want {
		t.Errorf("inspect -f ExposedPorts exp = %q, %v; want %q", out, err, want)
	}
	for _, v := range []string{"", "x", "0", "70000", "90-80", "80/icmp", "80-"} {
		_, err := strata(t, root, nil, "create", "--expose", v, "web", "true")
		if err == nil || !strings.Contains(err.Error(), "--expose") || exitCodeOf(err) != 125 {
			t.Errorf("create --expose %q = %v (exit %d), want a --expose error, exit 125", v, err, exitCodeOf(err))
		}
	}
	if out, _ := strata(t, root, nil, "ps", "-aq"); strings.Count(out, "\n") != 1 {
		t.Errorf("ps -aq after the refused --expose values = %q, want exp alone", out)
	}
}
