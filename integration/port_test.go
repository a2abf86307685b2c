package integration

import (
	"strings"
	"testing"
)

// TestPort runs docker's port on real containers, created and running: strata publishes no
// port, so it prints nothing and exits 0, and a PRIVATE_PORT fails as docker's CLI does, exit 1
// with "No public port"; a missing container and a bad argument count exit 1, a bad flag 125.
func TestPort(t *testing.T) {
	requiresContainers(t)
	root := newRoot(t)
	const ref = "port/test:1"
	loadVolumeImage(t, root, ref, nil, nil)
	mustStrata(t, root, "create", "--name", "made", "--expose", "80", ref, "true")
	mustStrata(t, root, "run", "-d", "--name", "live", ref, "sleep", "600")
	t.Cleanup(func() { strata(t, root, "rm", "-f", "live") })
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"port", "made"}, 0, ""},
		{[]string{"port", "live"}, 0, ""},
		{[]string{"container", "port", "live"}, 0, ""},
		{[]string{"port", "made", "80/tcp"}, 1, "strata: No public port '80/tcp' published for made\n"},
		{[]string{"port", "live", "80"}, 1, "strata: No public port '80' published for live\n"},
		{[]string{"container", "port", "live", "53/udp"}, 1, "strata: No public port '53/udp' published for live\n"},
		{[]string{"port", "live", "x"}, 1, "strata: invalid port (x): not a number from 0 to 65535\n"},
		{[]string{"port", "nosuch"}, 1, "strata: nosuch: no such container\n"},
		{[]string{"port", "nosuch", "80"}, 1, "strata: nosuch: no such container\n"},
		{[]string{"port"}, 1, "accepts between 1 and 2 arg(s)"},
		{[]string{"port", "--bogus", "live"}, 125, "unknown flag: --bogus"},
	} {
		r := strata(t, root, tc.args...)
		if r.Code != tc.code || r.Stdout != "" || !strings.Contains(r.Stderr, tc.stderr) || strings.Count(r.Stderr, "\n") != min(tc.code, 1) {
			t.Errorf("strata %s: exit %d, stdout %q, stderr %q; want exit %d, no output, stderr %q",
				strings.Join(tc.args, " "), r.Code, r.Stdout, r.Stderr, tc.code, tc.stderr)
		}
	}
}
