package main

import (
	"strings"
	"testing"
	"time"
)

// TestInfoDockerFields: info has docker's fields that scripts read and a daemonless tool can
// tell: Swarm.LocalNodeState (inactive: strata joins no swarm), IndexServerAddress, the
// proxies its registry requests use (credentials masked as docker masks them, in the text
// too) and SystemTime. Templates such as '{{.Swarm.LocalNodeState}}' failed with "no field".
func TestInfoDockerFields(t *testing.T) {
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	t.Setenv("HTTPS_PROXY", "http://user:s3cret@proxy.example:3128")
	t.Setenv("no_proxy", "localhost,.corp")
	root := t.TempDir()
	out, err := strata(t, root, nil, "info", "--format", "{{.Swarm.LocalNodeState}}|{{.IndexServerAddress}}|{{.HttpProxy}}|{{.HttpsProxy}}|{{.NoProxy}}|{{.SystemTime}}")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.TrimSpace(out), "|")
	if len(f) != 6 || f[0] != "inactive" || f[1] != "https://index.docker.io/v1/" || f[2] != "" ||
		f[3] != "http://xxxxx:xxxxx@proxy.example:3128" || f[4] != "localhost,.corp" {
		t.Errorf("info --format = %q", out)
	}
	if len(f) == 6 {
		if _, err := time.Parse(time.RFC3339Nano, f[5]); err != nil {
			t.Errorf("SystemTime %q: %v", f[5], err)
		}
	}
	text, err := strata(t, root, nil, "info")
	if err != nil || strings.Contains(text, "s3cret") || !strings.Contains(text, " HTTPS Proxy: http://xxxxx:xxxxx@proxy.example:3128\n") ||
		!strings.Contains(text, " No Proxy: localhost,.corp\n") || strings.Contains(text, "HTTP Proxy:") {
		t.Errorf("info =\n%s, %v; want the proxies set, masked", text, err)
	}
}
